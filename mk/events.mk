# Live-event scaling (issue 8): season replay of the calendar through the scaling plan, and the
# playbook that applies the plan (docs/live-events.md). event-* targets act on the AWS emulator
# only: they source the lab's emulator.env (make emulator-up, then make platform-up first).
EVENTS_LAB := $(or $(ARENA_LAB_DIR),$(CURDIR)/.lab)

.PHONY: simulate-season event-scaling event-scaling-plan event-scaling-test event-review

# The replay reads production's capacity model and platform settings (target tracking, grace period,
# warm-up) as playbooks/platform.yml deploys them. What-if runs print only, e.g. the values before
# issue 13: python simulation/replay.py --web-target 200 --grace-period 120
simulate-season: venv ## Replay simulation/season.yml through the event-scaling plan (docs/live-events.md + PNG)
	@python simulation/replay.py

event-scaling: venv ## Apply the local calendar's plan to the platform in the running emulator
	@source $(EVENTS_LAB)/emulator.env && ansible-playbook -i inventories/local playbooks/event_scaling.yml

event-scaling-plan: venv ## Print the local calendar's plan: actions in local and UTC time, late/running/past notes (no API call)
	@source $(EVENTS_LAB)/emulator.env && ansible-playbook -i inventories/local playbooks/event_scaling.yml \
	  --tags event_scaling_validate

# Issue 19: review a finished event of the local calendar (it must be over: end + the model's tail)
# against its forecast; the ratio goes to inventories/local/group_vars/all/event_history.yml, which
# the next event-scaling run reads. EVENT_START="2027-01-15T20:45" picks one of repeated names.
event-review: venv ## Review a finished event against its forecast: make event-review EVENT="<name>" [EVENT_START=<local start>]
	@test -n "$(EVENT)" || { echo 'make event-review: EVENT="<event name from the calendar>" is required' >&2; exit 2; }
	@source $(EVENTS_LAB)/emulator.env && ansible-playbook -i inventories/local playbooks/event_review.yml \
	  -e '{"event_review_event": "$(EVENT)", "event_review_start": "$(EVENT_START)"}'

event-scaling-test: venv ## Event-scaling playbook: bad input, plan, late/running/past, platform names (unit) and against a fresh emulator
	@scripts/pytest.sh tests/unit/roles/test_event_scaling_inputs.py tests/unit/roles/test_event_scaling_plan.py \
	  tests/unit/roles/test_event_scaling_platform_names.py tests/unit/roles/test_event_scaling_preflight.py \
	  tests/unit/filters/test_arena_event_rules.py tests/unit/filters/test_arena_schedule_now.py \
	  tests/unit/filters/test_arena_event_instance_types.py tests/unit/library/test_arena_group_floor.py
	@scripts/with-emulator.sh scripts/pytest.sh tests/integration/events
