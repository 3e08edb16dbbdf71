# The execution environment (issue 20): execution-environment.yml (ansible-builder schema 3) built
# by scripts/ee.sh on the lab's base image, and the real playbooks run inside it against an emulator
# of its own (lab dir .lab/ee): tests/ee, a platform's life (tests/arena_ee.py says how a run is
# made). A stage of `make test` (scripts/test.sh), beside the others. scripts/ee.sh's header says
# what differs from the upstream build.
EE_LAB := $(or $(ARENA_LAB_DIR),$(CURDIR)/.lab)/ee
# Extra pytest arguments, e.g. EE_PYTEST_ARGS="-k image" (the image's own checks, seconds).
EE_PYTEST_ARGS ?=

.PHONY: ee ee-test

ee: venv base-image ## Execution environment localhost/arena-ee:<release>-<hash> (rebuilt only when its inputs change)
	@scripts/ee.sh $(DEBIAN_RELEASE) >/dev/null

ee-test: ee ## A platform's life (platform, event_scaling, inventory, teardown) inside the execution environment, against its own emulator
	@ARENA_LAB_DIR=$(EE_LAB) ARENA_EE_IMAGE=$$(scripts/ee.sh --name $(DEBIAN_RELEASE)) \
	  $(STAGE) ee-test scripts/with-emulator.sh scripts/pytest.sh tests/ee --durations=10 $(EE_PYTEST_ARGS)
