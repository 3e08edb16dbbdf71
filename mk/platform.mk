# Platform (roles/platform_*, playbooks/platform.yml = core + services, teardown.yml, rollout.yml);
# docs/platform.md, docs/platform-services.md.
# All targets act on the AWS emulator only: they source the lab's emulator.env.
PLATFORM_LAB := $(or $(ARENA_LAB_DIR),$(CURDIR)/.lab)
PLATFORM_FIXTURES := $(VENV)/bin/python tests/integration/platform/platform_fixtures.py

.PHONY: platform-up platform-down platform-unlock bench-platform

platform-up: venv ## Build the platform (core + services) in the running emulator (make emulator-up first) and list it
	@source $(PLATFORM_LAB)/emulator.env && $(PLATFORM_FIXTURES) seed >/dev/null \
	  && ansible-playbook -i inventories/local playbooks/platform.yml \
	  && ansible-inventory -i inventories/local --graph

platform-down: venv ## Remove the platform (services, then core) from the running emulator
	@source $(PLATFORM_LAB)/emulator.env && ansible-playbook -i inventories/local playbooks/teardown.yml \
	  && $(PLATFORM_FIXTURES) clear

platform-unlock: venv ## Break the environment's run lock in the running emulator (its holder is known to be gone)
	@source $(PLATFORM_LAB)/emulator.env && ansible-playbook -i inventories/local playbooks/platform_unlock.yml

# Core only (--skip-tags platform_services) and the full platform (core + services): create, no-op
# re-run and teardown, each scope on a freshly reset emulator, each step timed (seconds, wall clock).
# Figures and the load they were taken under go to docs/benchmarks-platform.md.
bench-platform: venv ## Time platform create / no-op re-run / teardown, core only and full, against the emulator
	@mkdir -p build
	@scripts/with-emulator.sh bash -c '\
	  set -euo pipefail; \
	  for scope in core full; do \
	    curl -fsS -X POST "$$AWS_URL/moto-api/reset" >/dev/null; $(PLATFORM_FIXTURES) seed >/dev/null; \
	    skip=(); [[ $$scope == core ]] && skip=(--skip-tags platform_services); \
	    for step in create:platform.yml rerun:platform.yml teardown:teardown.yml; do \
	      log=build/bench-platform-$$scope-$${step%%:*}.log; start=$$(date +%s.%N); \
	      ansible-playbook -i inventories/local "$${skip[@]}" playbooks/$${step#*:} > $$log; \
	      end=$$(date +%s.%N); \
	      printf "%-5s %-9s %6.1f s  load %s  %s\n" "$$scope" "$${step%%:*}" "$$(echo "$$end - $$start" | bc)" \
	        "$$(cut -d" " -f1 /proc/loadavg)" "$$(grep -E "^localhost +:" $$log | tr -s " ")"; \
	    done; \
	  done; echo "load average at the end: $$(cut -d" " -f1-3 /proc/loadavg)"' \
	  | tee build/bench-platform.txt
