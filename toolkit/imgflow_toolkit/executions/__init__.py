"""Step Functions executions, local or on AWS: saved histories, the console's graph, replay."""
