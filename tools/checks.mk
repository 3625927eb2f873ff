# Template, state machine and build checks for imgflow.
#
# Included by the main Makefile (`include tools/checks.mk`); also usable alone:
#     make -f tools/checks.mk checks
#
# Targets:
#   checks               all of the below
#   check-sam-validate   sam validate --lint (offline)
#   check-cfn-lint       cfn-lint + cfn-lint-serverless rules (config: .cfnlintrc)
#   check-checkov        checkov on template.yaml AND on its SAM->CloudFormation
#                        translation (roles, state machine, rule, queues...;
#                        skips with reasons: .checkov.yaml)
#                        cfn-lint and checkov also scan the template with
#                        ExistingSourceBucket and BackfillManifestLocation set
#                        (CHECKS_EXISTING_DEFAULTS)
#   check-asl            asl-validator on statemachine/*.asl.json (placeholders substituted)
#   check-build          sam build (python3.13) + import every built handler; the
#                        layer must hold the core and its requirements only
#   checks-tools         install every tool (venvs under .tools/, tools/node_modules)
#   checks-clean         remove the tools and build outputs
#
# Everything is installed into ignored folders: .tools/<tool> (one venv per
# tool, each pins its own boto3), tools/node_modules (npm ci) and
# .aws-sam/checks. A venv is rebuilt only when its requirements file changes
# (stamp files). Nothing needs stdin, credentials or network beyond PyPI/npm.

CHECKS_ROOT := $(patsubst %/,%,$(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..))
CHECKS_TOOLS := $(CHECKS_ROOT)/.tools
CHECKS_OUT := $(CHECKS_ROOT)/.aws-sam/checks
CHECKS_TEMPLATE := $(CHECKS_ROOT)/template.yaml
CHECKS_ASL := $(wildcard $(CHECKS_ROOT)/statemachine/*.asl.json)
CHECKS_REGION ?= us-east-1

# The scanners evaluate conditions with the parameters' defaults: scan once more
# with a bucket attached (custom resource, its function and policy, no source
# bucket), SSE-KMS and in place (the key grants of the readers and writers), and
# a manifest location (the backfill's ReadManifests statement).
CHECKS_EXISTING := $(CHECKS_OUT)/existing-bucket
CHECKS_EXISTING_DEFAULTS := --default ExistingSourceBucket=example-existing-bucket \
	--default SourceBucketKmsKeyArn=arn:aws:kms:$(CHECKS_REGION):123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab \
	--default InPlace=true \
	--default BackfillManifestLocation=example-inventory-bucket/imgflow/

# Offline and quiet: a region for sam/cfn-lint/samtranslator, no telemetry,
# no update checks.
CHECKS_ENV := SAM_CLI_TELEMETRY=0 SAM_CLI_CONTEXTS=0 AWS_DEFAULT_REGION=$(CHECKS_REGION) AWS_REGION=$(CHECKS_REGION) \
	PIP_DISABLE_PIP_VERSION_CHECK=1 BC_SKIP_MAPPING=TRUE

# $(call checks_find_python,3.13): the first working pythonX.Y on PATH or
# under ~/.pyenv/versions/X.Y*/bin (a pyenv shim that is not activated fails
# the test run and is passed over).
checks_find_python = $(shell for c in $$(command -v python$(1) 2>/dev/null) \
	$(wildcard $(HOME)/.pyenv/versions/$(1)*/bin/python$(1)) /usr/local/bin/python$(1) /usr/bin/python$(1); do \
	"$$c" -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(1)".split("."))))' >/dev/null 2>&1 \
	&& { echo "$$c"; break; }; done)

# Evaluated once, on first use.
CHECKS_PY313 = $(eval CHECKS_PY313 := $(call checks_find_python,3.13))$(CHECKS_PY313)
# The tools' own interpreter: aws-sam-cli, cfn-lint and checkov all support 3.12.
CHECKS_TOOLS_PY = $(eval CHECKS_TOOLS_PY := $(firstword $(call checks_find_python,3.12) \
	$(call checks_find_python,3.11) $(call checks_find_python,3.13)))$(CHECKS_TOOLS_PY)

CHECKS_SAM := $(CHECKS_TOOLS)/sam/bin/sam
CHECKS_SAM_PY := $(CHECKS_TOOLS)/sam/bin/python
CHECKS_CFN_LINT := $(CHECKS_TOOLS)/cfn-lint/bin/cfn-lint
CHECKS_CFN_LINT_PY := $(CHECKS_TOOLS)/cfn-lint/bin/python
CHECKS_CHECKOV := $(CHECKS_TOOLS)/checkov/bin/checkov
CHECKS_RUNTIME_PY := $(CHECKS_TOOLS)/lambda-runtime/bin/python
CHECKS_ASL_VALIDATOR := $(CHECKS_ROOT)/tools/node_modules/.bin/asl-validator

CHECKS_STAMP_SAM := $(CHECKS_TOOLS)/sam/.installed
CHECKS_STAMP_CFN_LINT := $(CHECKS_TOOLS)/cfn-lint/.installed
CHECKS_STAMP_CHECKOV := $(CHECKS_TOOLS)/checkov/.installed
CHECKS_STAMP_RUNTIME := $(CHECKS_TOOLS)/lambda-runtime/.installed
CHECKS_STAMP_NPM := $(CHECKS_ROOT)/tools/node_modules/.installed

.PHONY: checks checks-tools checks-clean check-sam-validate check-cfn-lint check-checkov check-asl check-build

checks: check-sam-validate check-cfn-lint check-asl check-checkov check-build
	@echo "checks: all passed"

checks-tools: $(CHECKS_STAMP_SAM) $(CHECKS_STAMP_CFN_LINT) $(CHECKS_STAMP_CHECKOV) $(CHECKS_STAMP_RUNTIME) $(CHECKS_STAMP_NPM)

# --- installs ---------------------------------------------------------------

# One venv per tool, rebuilt from scratch when its requirements file changes.
$(CHECKS_TOOLS)/%/.installed: $(CHECKS_ROOT)/tools/requirements-%.txt
	@test -n "$(CHECKS_TOOLS_PY)" || { echo "checks: no python3.12/3.11/3.13 found (PATH, ~/.pyenv/versions)" >&2; exit 1; }
	@echo "checks: installing $* into $(@D) with $(CHECKS_TOOLS_PY)"
	rm -rf $(@D)
	$(CHECKS_TOOLS_PY) -m venv $(@D)
	$(CHECKS_ENV) $(@D)/bin/python -m pip install --quiet --quiet --no-input -r $<
	touch $@

# The python3.13 "Lambda runtime" used to import the built functions: must be
# 3.13, whatever the tools use.
$(CHECKS_STAMP_RUNTIME): $(CHECKS_ROOT)/tools/requirements-lambda-runtime.txt
	@test -n "$(CHECKS_PY313)" || { echo "checks: no python3.13 found (PATH, ~/.pyenv/versions/3.13*)" >&2; exit 1; }
	@echo "checks: installing the python3.13 runtime stand-in into $(@D) with $(CHECKS_PY313)"
	rm -rf $(@D)
	$(CHECKS_PY313) -m venv $(@D)
	$(CHECKS_ENV) $(@D)/bin/python -m pip install --quiet --quiet --no-input -r $<
	touch $@

$(CHECKS_STAMP_NPM): $(CHECKS_ROOT)/tools/package.json $(CHECKS_ROOT)/tools/package-lock.json
	cd $(CHECKS_ROOT)/tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# --- checks -----------------------------------------------------------------

check-sam-validate: $(CHECKS_STAMP_SAM)
	cd $(CHECKS_ROOT) && $(CHECKS_ENV) $(CHECKS_SAM) validate --lint --template-file template.yaml --region $(CHECKS_REGION)

check-cfn-lint: $(CHECKS_STAMP_CFN_LINT) $(CHECKS_EXISTING)/template.cfn.json
	cd $(CHECKS_ROOT) && $(CHECKS_ENV) $(CHECKS_CFN_LINT) template.yaml -a cfn_lint_serverless.rules
	cd $(CHECKS_ROOT) && $(CHECKS_ENV) $(CHECKS_CFN_LINT) $(CHECKS_EXISTING)/template.sam.json -a cfn_lint_serverless.rules
	@echo "cfn-lint: no findings"

# The SAM template translated offline to plain CloudFormation (what checkov
# cannot see in template.yaml: generated roles and policies, rule, queues).
$(CHECKS_OUT)/template.cfn.json: $(CHECKS_TEMPLATE) $(CHECKS_ASL) $(CHECKS_ROOT)/tools/sam_translate.py $(CHECKS_STAMP_SAM)
	cd $(CHECKS_ROOT) && $(CHECKS_ENV) $(CHECKS_SAM_PY) tools/sam_translate.py template.yaml $@

$(CHECKS_EXISTING)/template.cfn.json: $(CHECKS_TEMPLATE) $(CHECKS_ASL) $(CHECKS_ROOT)/tools/sam_translate.py $(CHECKS_STAMP_SAM)
	cd $(CHECKS_ROOT) && $(CHECKS_ENV) $(CHECKS_SAM_PY) tools/sam_translate.py template.yaml $@ \
		$(CHECKS_EXISTING_DEFAULTS) --source-out $(CHECKS_EXISTING)/template.sam.json

check-checkov: $(CHECKS_STAMP_CHECKOV) $(CHECKS_OUT)/template.cfn.json $(CHECKS_EXISTING)/template.cfn.json
	cd $(CHECKS_ROOT) && $(CHECKS_ENV) $(CHECKS_CHECKOV) --config-file .checkov.yaml \
		-f template.yaml -f $(CHECKS_OUT)/template.cfn.json \
		-f $(CHECKS_EXISTING)/template.sam.json -f $(CHECKS_EXISTING)/template.cfn.json

check-asl: $(CHECKS_STAMP_NPM) $(CHECKS_STAMP_CFN_LINT)
	cd $(CHECKS_ROOT) && $(CHECKS_CFN_LINT_PY) tools/validate_asl.py --validator $(CHECKS_ASL_VALIDATOR) \
		--template template.yaml $(CHECKS_ASL)

# sam build needs python3.13 on PATH; --cached makes a warm run a hash check.
check-build: $(CHECKS_STAMP_SAM) $(CHECKS_STAMP_RUNTIME)
	@test -n "$(CHECKS_PY313)" || { echo "checks: no python3.13 found (PATH, ~/.pyenv/versions/3.13*)" >&2; exit 1; }
	cd $(CHECKS_ROOT) && PATH="$(dir $(CHECKS_PY313)):$$PATH" $(CHECKS_ENV) $(CHECKS_SAM) build \
		--template-file template.yaml --build-dir $(CHECKS_OUT)/build --cache-dir $(CHECKS_OUT)/cache \
		--cached --parallel
	cd $(CHECKS_ROOT) && $(CHECKS_ENV) $(CHECKS_SAM_PY) tools/check_build.py \
		--python $(CHECKS_RUNTIME_PY) --template template.yaml --built $(CHECKS_OUT)/build/template.yaml --layer-sizes

checks-clean:
	rm -rf $(CHECKS_TOOLS)/sam $(CHECKS_TOOLS)/cfn-lint $(CHECKS_TOOLS)/checkov $(CHECKS_TOOLS)/lambda-runtime \
		$(CHECKS_ROOT)/tools/node_modules $(CHECKS_OUT)
