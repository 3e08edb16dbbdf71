# Images: local bake of the tier images, the acceptance gate, the boot benchmark (docs/ami-pipeline.md).
.PHONY: bake gate bench-boot

bake: setup ## Bake the web, api and admin images locally in parallel (summary table, SBOMs)
	@$(STAGE) bake scripts/bake.sh

gate: venv ## Boot each baked image and run the acceptance gate (emulator started here)
	@$(STAGE) gate scripts/with-emulator.sh scripts/gate.sh

bench-boot: venv ## Boot-to-healthy of the baked images vs configure-at-boot (medians, ratio)
	@scripts/with-emulator.sh scripts/bench-boot.sh
