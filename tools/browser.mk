# The browser test (tests/browser) opens report.html in headless Chromium.
# Debian's chromium is installed when missing and we may install packages
# (root, as in CI). Otherwise, or if the install fails, the test skips and
# says why; pytest -ra lists the reason.
CHROMIUM ?= /usr/bin/chromium

.PHONY: browser-deps

browser-deps:
	@if [ -x "$(CHROMIUM)" ]; then \
		echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		{ apt-get update -q && apt-get install -y -q --no-install-recommends chromium; } \
			|| echo "browser-deps: could not install chromium; tests/browser will be skipped"; \
	else \
		echo "browser-deps: chromium missing and not root; tests/browser will be skipped" \
			"(sudo apt-get install chromium)"; \
	fi

UNIT_DEPS += browser-deps
