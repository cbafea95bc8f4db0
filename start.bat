@echo off
rem Start Constellation on Windows: .venv, requirements, migrate, collectstatic, admin user, then
rem daphne in the foreground (Ctrl+C stops it). No Celery here: the server runs the scheduled
rem jobs and the tasks itself (CELERY_QUEUE=off; docs/nodes.md, Celery Queue).
setlocal EnableExtensions DisableDelayedExpansion
if not defined CELERY_QUEUE set "CELERY_QUEUE=off"
cd /d "%~dp0"

set "PORT=8000"
set "BIND=0.0.0.0"

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
echo error: unknown argument: %~1 1>&2
goto usage_error

:missing_value
echo error: %~1 needs a value 1>&2
goto usage_error

:parsed
echo %PORT%| findstr /r "^[0-9][0-9]*$" >nul
if errorlevel 1 (
    echo error: --port must be a number, not "%PORT%" 1>&2
    exit /b 1
)

rem --- Python 3.11 and .venv --------------------------------------------------------------
set "CHECK311=import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)"
if exist ".venv\Scripts\python.exe" goto have_venv
set "PY="
if defined PYTHON (
    "%PYTHON%" -c "%CHECK311%" >nul 2>&1 && set "PY="%PYTHON%""
    goto found_python
)
py -3.11 -c "%CHECK311%" >nul 2>&1 && set "PY=py -3.11"
if defined PY goto found_python
python -c "%CHECK311%" >nul 2>&1 && set "PY=python"
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

echo.
echo Admin: http://localhost:%PORT%/admin/  - serving on %BIND%:%PORT%, Ctrl+C stops.
"%VPY%" -m config.daphne_server -b %BIND% -p %PORT% config.asgi:application
exit /b %errorlevel%

:usage
echo Usage: start.bat [--port N] [--bind ADDR]
echo.
echo Creates .venv with Python 3.11 if missing (py -3.11, or python; set PYTHON to choose),
echo installs requirements.txt when it changed, applies migrations, collects static files,
echo creates the admin user from ADMIN_USERNAME / ADMIN_PASSWORD, then serves
echo config.asgi:application with daphne in the foreground. Celery is not started: the
echo server runs the scheduled jobs and the tasks itself.
echo.
echo   --port N      port to listen on, default 8000
echo   --bind ADDR   address to listen on, default 0.0.0.0
echo.
echo Data go to DATA_DIR, by default %%LOCALAPPDATA%%\constellation. See .env.example.
exit /b 0

:usage_error
echo Run start.bat --help for the options. 1>&2
exit /b 1
