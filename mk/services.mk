# Platform services (issue 7): ElastiCache, S3 + CloudFront, SES. docs/platform-services.md.
.PHONY: services-unit services-integration services-lint

SERVICES_UNIT := tests/unit/library/test_arena_elasticache_replication_group.py \
                 tests/unit/library/test_arena_elasticache_parameter_group.py \
                 tests/unit/library/test_arena_cloudfront.py tests/unit/library/test_arena_sesv2.py \
                 tests/unit/filters/test_arena_ses.py
SERVICES_PATHS := roles/platform_cache roles/platform_static roles/platform_email \
                  playbooks/platform_services.yml playbooks/static_publish.yml
SERVICES_PY := library/arena_elasticache_replication_group.py library/arena_elasticache_parameter_group.py \
               library/arena_cloudfront_oac.py library/arena_cloudfront_distribution.py \
               library/arena_sesv2_email_identity.py library/arena_sesv2_configuration_set.py \
               library/arena_sesv2_identity_policy.py filter_plugins/arena_ses.py \
               $(SERVICES_UNIT) tests/integration/services

services-unit: venv ## Platform services: Stubber tests of the custom modules and the SES filter
	@$(STAGE) services-unit scripts/pytest.sh $(SERVICES_UNIT)

services-integration: venv ## Platform services against a fresh emulator (bad input, posture, static publish, cache interruption)
	@$(STAGE) services-integration scripts/with-emulator.sh scripts/pytest.sh tests/integration/services

services-lint: venv ## Platform services: ansible-lint, yamllint, ruff on their paths only
	@ansible-lint --offline $(SERVICES_PATHS)
	@yamllint --strict $(SERVICES_PATHS) inventories/*/group_vars/all/services.yml
	@ruff check $(SERVICES_PY) && ruff format --check $(SERVICES_PY)
