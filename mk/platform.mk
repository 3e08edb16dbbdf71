# Platform core (roles/platform_*, playbooks/platform.yml, teardown.yml, rollout.yml); docs/platform.md.
# All targets act on the AWS emulator only: they source the lab's emulator.env.
PLATFORM_LAB := $(or $(ARENA_LAB_DIR),$(CURDIR)/.lab)
PLATFORM_FIXTURES := $(VENV)/bin/python tests/integration/platform/platform_fixtures.py

.PHONY: platform-up platform-down bench-platform

platform-up: venv ## Build the platform core in the running emulator (make emulator-up first) and list it
	@source $(PLATFORM_LAB)/emulator.env && $(PLATFORM_FIXTURES) seed >/dev/null \
	  && ansible-playbook -i inventories/local playbooks/platform.yml \
	  && ansible-inventory -i inventories/local --graph

platform-down: venv ## Remove the platform core from the running emulator
	@source $(PLATFORM_LAB)/emulator.env && ansible-playbook -i inventories/local playbooks/teardown.yml \
	  && $(PLATFORM_FIXTURES) clear

# Create, no-op re-run and teardown against a fresh emulator, each timed (seconds, wall clock).
# Figures and the load they were taken under go to docs/benchmarks-platform.md.
bench-platform: venv ## Time platform create / no-op re-run / teardown against a fresh emulator
	@mkdir -p build
	@scripts/with-emulator.sh bash -c '\
	  set -euo pipefail; $(PLATFORM_FIXTURES) seed >/dev/null; \
	  for step in create:platform.yml rerun:platform.yml teardown:teardown.yml; do \
	    start=$$(date +%s.%N); \
	    ansible-playbook -i inventories/local playbooks/$${step#*:} > build/bench-platform-$${step%%:*}.log; \
	    end=$$(date +%s.%N); \
	    printf "%-9s %6.1f s  %s\n" "$${step%%:*}" "$$(echo "$$end - $$start" | bc)" \
	      "$$(grep -E "^localhost +:" build/bench-platform-$${step%%:*}.log | tr -s " ")"; \
	  done; echo "load average: $$(cut -d" " -f1-3 /proc/loadavg)"' \
	  | tee build/bench-platform.txt
