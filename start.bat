@echo off
rem Start Constellation on Windows: .venv, requirements, migrate, collectstatic, admin user, then
rem daphne in the foreground and, when the node's Celery Queue feature is active (as start.sh),
rem a Celery worker and beat beside it; Ctrl+C stops them all. Without Celery the server runs
rem the scheduled jobs and the tasks itself (CELERY_QUEUE=off; docs/nodes.md, Celery Queue).
setlocal EnableExtensions DisableDelayedExpansion
cd /d "%~dp0"
if not defined DJANGO_SETTINGS_MODULE set "DJANGO_SETTINGS_MODULE=config.settings"

set "PORT=8000"
set "BIND=0.0.0.0"
set "CELERY=auto"
set "CELERY_FLAG="

:parse
if "%~1"=="" goto parsed
if /i "%~1"=="-h" goto usage
if /i "%~1"=="--help" goto usage
if /i "%~1"=="--port" (
    if "%~2"=="" goto missing_value
    set "PORT=%~2"
    shift
    shift
    goto parse
)
if /i "%~1"=="--bind" (
    if "%~2"=="" goto missing_value
    set "BIND=%~2"
    shift
    shift
    goto parse
)
if /i "%~1"=="--celery" (
    set "CELERY=1"
    shift
    goto parse
)
if /i "%~1"=="--no-celery" (
    set "CELERY=0"
    shift
    goto parse
)
echo error: unknown argument: %~1 1>&2
goto usage_error

:missing_value
echo error: %~1 needs a value 1>&2
goto usage_error

:bad_port
echo error: --port must be a number from 1 to 65535, not "%PORT%" 1>&2
exit /b 1

:parsed
rem Digits only (the loop runs when anything else is left), no leading zero (cmd.exe would
rem read it as octal), at most 65535.
for /f "delims=0123456789" %%C in ("%PORT%") do goto bad_port
if "%PORT:~0,1%"=="0" goto bad_port
if %PORT% GTR 65535 goto bad_port

rem --- Python 3.11 and .venv --------------------------------------------------------------
set "CHECK311=import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)"
if exist ".venv\Scripts\python.exe" goto have_venv
set "PY="
rem "if not errorlevel 1" rather than "&&": the same on Windows, and what wine's cmd honours.
if defined PYTHON (
    "%PYTHON%" -c "%CHECK311%" >nul 2>&1
    if not errorlevel 1 set "PY="%PYTHON%""
    goto found_python
)
py -3.11 -c "%CHECK311%" >nul 2>&1
if not errorlevel 1 set "PY=py -3.11"
if defined PY goto found_python
python -c "%CHECK311%" >nul 2>&1
if not errorlevel 1 set "PY=python"
:found_python
if not defined PY (
    echo error: Python 3.11 not found. Install it from python.org, or set PYTHON to its path. 1>&2
    exit /b 1
)
echo creating .venv with %PY%
%PY% -m venv .venv
if errorlevel 1 (
    echo error: could not create .venv 1>&2
    exit /b 1
)

:have_venv
set "VPY=%CD%\.venv\Scripts\python.exe"
"%VPY%" -c "%CHECK311%" >nul 2>&1
if errorlevel 1 (
    echo error: .venv does not run Python 3.11 or is broken. Remove the .venv folder and run again. 1>&2
    exit /b 1
)

rem A second start would double the Celery worker (the port would stop only the server).
powershell -NoProfile -ExecutionPolicy Bypass -File "%~dp0scripts\_procs.ps1" list "%~dp0." 2>nul
if not errorlevel 1 (
    echo error: Constellation is already running ^(above^). Stop it with stop.bat first. 1>&2
    exit /b 1
)

rem Install requirements.txt only when it changed since the last successful install.
set "STAMP=import hashlib, pathlib, sys; d = hashlib.sha256(pathlib.Path('requirements.txt').read_bytes()).hexdigest(); s = pathlib.Path('.venv/.installed-requirements.txt.sha256')"
"%VPY%" -c "%STAMP%; sys.exit(0 if s.exists() and s.read_text().strip() == d else 1)"
if not errorlevel 1 goto installed
echo installing requirements.txt into .venv
"%VPY%" -m pip install --disable-pip-version-check --quiet -r requirements.txt
if errorlevel 1 (
    echo error: pip install failed 1>&2
    exit /b 1
)
"%VPY%" -c "%STAMP%; s.write_text(d)"
:installed

rem --- Database, static files, admin user ---------------------------------------------------
"%VPY%" manage.py migrate --noinput
if errorlevel 1 exit /b 1
"%VPY%" manage.py collectstatic --noinput --verbosity 0
if errorlevel 1 exit /b 1
"%VPY%" manage.py ensure_admin
if errorlevel 1 exit /b 1

rem --- Celery: as start.sh, it follows CELERY_QUEUE (on/off), else the node's feature -------
set "SETTINGS_OUT=%TEMP%\constellation-start-%RANDOM%%RANDOM%.txt"
"%VPY%" -c "from django.conf import settings; print('QUEUE_SETTING=' + settings.CELERY_QUEUE); print('DATA_DIR=' + str(settings.DATA_DIR.resolve()))" > "%SETTINGS_OUT%"
if errorlevel 1 (
    del "%SETTINGS_OUT%" 2>nul
    echo error: could not read the settings ^(see the error above^) 1>&2
    exit /b 1
)
set "QUEUE_SETTING="
for /f "usebackq tokens=1* delims==" %%A in ("%SETTINGS_OUT%") do set "%%A=%%B"
del "%SETTINGS_OUT%" 2>nul
if not "%CELERY%"=="auto" goto celery_chosen
if /i "%QUEUE_SETTING%"=="on" set "CELERY=1"
if /i "%QUEUE_SETTING%"=="off" set "CELERY=0"
if not "%CELERY%"=="auto" goto celery_chosen
"%VPY%" manage.py node --active celery-queue
if errorlevel 2 (
    echo error: could not ask this node whether its Celery Queue feature is active 1>&2
    exit /b 1
)
if errorlevel 1 (set "CELERY=0") else (set "CELERY=1")
:celery_chosen
if "%CELERY%"=="1" goto start_celery
if /i "%QUEUE_SETTING%"=="on" (
    echo Celery not started here: CELERY_QUEUE=on says a worker runs as its own service
) else (
    set "CELERY_QUEUE=off"
    echo Celery Queue off: the server runs the periodic jobs and the tasks itself
)
goto serve

rem The server, and the worker and beat beside it, run as children of config.supervise: Ctrl+C
rem stops them all (a batch file could not: see config/supervise.py).
:start_celery
set "CELERY_QUEUE=on"
set "CELERY_FLAG=--celery"
echo Celery worker ^(solo pool^) and beat start beside the server, logs in %DATA_DIR%\logs

:serve
echo.
echo Admin: http://localhost:%PORT%/admin/  - serving on %BIND%:%PORT%, Ctrl+C stops.
"%VPY%" -m config.supervise %BIND% %PORT% %CELERY_FLAG%
exit /b %errorlevel%

:usage
echo Usage: start.bat [--port N] [--bind ADDR] [--celery ^| --no-celery]
echo.
echo Creates .venv with Python 3.11 if missing (py -3.11, or python; set PYTHON to choose),
echo installs requirements.txt when it changed, applies migrations, collects static files,
echo creates the admin user from ADMIN_USERNAME / ADMIN_PASSWORD. When the node's Celery Queue
echo feature is active (manage.py node --active celery-queue; CELERY_QUEUE=on/off overrides it)
echo it runs a Celery worker (solo pool) and Celery beat beside the server; without it the
echo server runs the periodic jobs and the tasks itself. It serves config.asgi:application
echo with daphne in the foreground: Ctrl+C stops it all (stop.bat too, from elsewhere).
echo.
echo   --port N      port to listen on, default 8000
echo   --bind ADDR   address to listen on, default 0.0.0.0
echo   --celery      start Celery whatever the feature says
echo   --no-celery   do not start Celery; the server runs the periodic jobs itself, unless
echo                 CELERY_QUEUE=on says a worker runs as its own service
echo   -h, --help    show this help
echo.
echo Data and logs go to DATA_DIR, by default %%LOCALAPPDATA%%\constellation. See .env.example.
exit /b 0

:usage_error
echo Run start.bat --help for the options. 1>&2
exit /b 1
