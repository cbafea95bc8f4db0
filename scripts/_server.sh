# shellcheck shell=bash
# The command line of the Celery worker, shared by start.sh and by the tests that start it as
# its own process (tests/faults/processes.py). The ASGI server's command line is built by
# config/serve.py, from the settings.

# The python arguments of the Celery worker with embedded beat.
CELERY_CMD=(-m celery -A config worker -B
    --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel=INFO)

# The Celery worker and the beat as their own processes (the systemd units of an installed
# node, scripts/service-start.sh): the beat reads its schedules from the database
# (django-celery-beat, editable in the admin) and keeps no pid file in the project folder.
CELERY_WORKER_CMD=(-m celery -A config worker --loglevel=INFO)
CELERY_BEAT_CMD=(-m celery -A config beat
    --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel=INFO --pidfile=)
