# Hardening (roles/hardening): Lynis score and converge benchmark. Included by the Makefile.
.PHONY: score bench-hardening

score: setup ## Lynis hardening index of base + hardening per profile (web, api, admin)
	@scripts/hardening/score.sh $(PROFILES)

bench-hardening: setup ## Time base + hardening (web) on a fresh container: first run, re-run, task counts
	@scripts/hardening/bench.sh
