# Images: local bake of the tier images, the acceptance gate, the boot benchmark, instances launched
# from the platform (docs/ami-pipeline.md). The gate, the benchmark and `make launch` build the
# platform core in their own emulator (lab dirs .lab/images, .lab/launch): `make test` runs them beside
# the integration suite, whose emulator a shared lab dir would reset.
IMAGES_LAB := $(or $(ARENA_LAB_DIR),$(CURDIR)/.lab)/images

.PHONY: bake gate images bench-boot

bake: setup ## Bake the web, api and admin images locally in parallel (summary table, SBOMs)
	@$(STAGE) bake scripts/bake.sh

gate: venv ## Boot each baked image and run the acceptance gate (emulator started here)
	@ARENA_LAB_DIR=$(IMAGES_LAB) $(STAGE) gate scripts/with-emulator.sh scripts/gate.sh

images: setup ## The image pipeline as make test runs it: bake the three tiers (the gate's platform built meanwhile), then gate them
	@ARENA_LAB_DIR=$(IMAGES_LAB) scripts/images.sh

bench-boot: venv ## Boot-to-healthy of the baked images vs configure-at-boot (medians, ratio)
	@ARENA_LAB_DIR=$(IMAGES_LAB) scripts/with-emulator.sh scripts/bench-boot.sh

.PHONY: launch launch-down
LAUNCH_LAB := $(or $(ARENA_LAB_DIR),$(CURDIR)/.lab)/launch

launch: venv ## N instances per tier launched from the platform's groups, with their health (N=2; KEEP=1 keeps them)
ifeq ($(KEEP),1)
	@export ARENA_LAB_DIR=$(LAUNCH_LAB) ARENA_LAUNCH_COUNT=$(or $(N),2) ARENA_LAUNCH_KEEP=1; \
	  scripts/emulator.sh up && source $(LAUNCH_LAB)/emulator.env && scripts/launch.sh $(TIERS)
else
	@ARENA_LAB_DIR=$(LAUNCH_LAB) ARENA_LAUNCH_COUNT=$(or $(N),2) scripts/with-emulator.sh scripts/launch.sh $(TIERS)
endif

launch-down: ## Remove the instances and the emulator `make launch KEEP=1` left running
	@scripts/lab/launch.py down --name-prefix ami-launch; podman rm -f -t 0 ami-launch-redis >/dev/null 2>&1 || true
	@ARENA_LAB_DIR=$(LAUNCH_LAB) scripts/emulator.sh down
