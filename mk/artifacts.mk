# Fixture artifacts (the reference site and API) the web and api roles deploy in tests and the demo.
# Reproducible: the same sources give the same bytes and sha256. Molecule scenarios build them too.
.PHONY: artifacts

artifacts: ## Build the fixture site and API artifacts into build/artifacts (with .sha256 files)
	@python3 apps/build_artifacts.py --out $(CURDIR)/build/artifacts
