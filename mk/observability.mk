# Event-day observability (issue 18): the CloudWatch dashboard of an environment, generated from the
# platform and the event calendar (filter_plugins/arena_dashboard.py, library/arena_cloudwatch_dashboard.py,
# roles/platform_monitoring), rendered locally from the emulator's metrics (docs/observability.md).

.PHONY: dashboard dashboard-test

# A lab of its own (emulator in a private directory, platform built, sample metrics of a replayed event),
# stopped at the end; extra playbook arguments: DASHBOARD_PLAYBOOK_ARGS="--skip-tags ...".
dashboard: venv ## Render the event-day dashboard from a fresh emulator into docs/event-day-dashboard.png (leaves nothing running)
	@scripts/dashboard.sh docs/event-day-dashboard.png

dashboard-test: venv ## The dashboard's filter, module (Stubber + moto) and renderer unit tests
	@scripts/pytest.sh tests/unit/filters/test_arena_dashboard.py tests/unit/library/test_arena_cloudwatch_dashboard.py \
	  tests/unit/test_dashboard_render.py
