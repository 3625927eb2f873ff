"""imgflow: a serverless image optimiser (AWS SAM + Step Functions)."""

__version__ = "0.1.0"
