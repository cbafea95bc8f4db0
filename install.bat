@echo off
rem Install Constellation as a Terminal on Windows: .venv with Python 3.11, requirements.txt, a
rem .env when there is none (DATA_DIR, NODE_ROLE=terminal), migrate, collectstatic, the admin
rem user; with --task a Scheduled Task that runs start.bat at logon. Running it again changes
rem nothing that is already in place. Serving is start.bat's job; upgrading is upgrade.bat's.
setlocal EnableExtensions DisableDelayedExpansion
cd /d "%~dp0"

set "PORT=8000"
set "ADMIN=0"
set "TASK=0"
set "REMOVE_TASK=0"
set "TASK_NAME=Constellation"

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
if /i "%~1"=="--admin" (
    set "ADMIN=1"
    shift
    goto parse
)
if /i "%~1"=="--task" (
    set "TASK=1"
    shift
    goto parse
)
if /i "%~1"=="--remove-task" (
    set "REMOVE_TASK=1"
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
if "%TASK%%REMOVE_TASK%"=="11" (
    echo error: --task and --remove-task do not go together 1>&2
    exit /b 1
)
if "%REMOVE_TASK%"=="1" goto remove_task

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
    echo error: Python 3.11 not found ^(tried py -3.11 and python; PYTHON, when set^). 1>&2
    echo Install Python 3.11 from python.org, or set PYTHON to the path of its python.exe. 1>&2
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

rem Install requirements.txt only when it changed since the last successful install (the same
rem stamp as start.bat and upgrade.bat, so they do not install it again).
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

rem --- .env: written once, never overwritten ---------------------------------------------
if exist ".env" (
    echo .env exists: left as it is
    goto env_done
)
rem DATA_DIR from the environment when set (it wins over .env anyway), else the settings'
rem own default, written out so that the folder is plain to see.
set "NEW_DATA_DIR=%DATA_DIR%"
if not defined NEW_DATA_DIR if defined LOCALAPPDATA set "NEW_DATA_DIR=%LOCALAPPDATA%\constellation"
if not defined NEW_DATA_DIR (
    echo error: neither DATA_DIR nor LOCALAPPDATA is set: set DATA_DIR to the data folder 1>&2
    exit /b 1
)
rem Delayed expansion only here: a folder name may hold ^& or parentheses, which !VAR! passes
rem through untouched.
setlocal EnableDelayedExpansion
> ".env" (
    echo # Written by install.bat: a Terminal node. Every variable is in .env.example.
    echo DATA_DIR=!NEW_DATA_DIR!
    echo NODE_ROLE=terminal
)
if errorlevel 1 (
    endlocal
    echo error: could not write .env 1>&2
    exit /b 1
)
echo wrote .env: DATA_DIR=!NEW_DATA_DIR!, NODE_ROLE=terminal
endlocal
:env_done

rem --- Database, static files, admin user -------------------------------------------------
"%VPY%" manage.py migrate --noinput
if errorlevel 1 exit /b 1
"%VPY%" manage.py collectstatic --noinput --verbosity 0
if errorlevel 1 exit /b 1
rem ADMIN_USERNAME / ADMIN_PASSWORD (environment or .env): created when missing, else a hint.
"%VPY%" manage.py ensure_admin
if errorlevel 1 exit /b 1
if "%ADMIN%"=="1" (
    echo creating an admin user: user name, e-mail and password are asked
    "%VPY%" manage.py createsuperuser
    if errorlevel 1 exit /b 1
)

if "%TASK%"=="1" goto create_task
echo.
echo Installed. Start it with start.bat (--port N); upgrade it with upgrade.bat.
exit /b 0

rem --- Scheduled Task ---------------------------------------------------------------------
:create_task
rem /F replaces a task of the same name: running install.bat --task again changes nothing.
rem /IT: only while this user is logged on, so no password is stored with the task.
schtasks /Create /TN "%TASK_NAME%" /SC ONLOGON /RU "%USERDOMAIN%\%USERNAME%" /IT /RL LIMITED /TR "\"%~dp0start.bat\" --port %PORT%" /F
if errorlevel 1 (
    echo error: schtasks could not create the task "%TASK_NAME%" ^(a logon task may need an administrator prompt^) 1>&2
    exit /b 1
)
echo Installed. The task "%TASK_NAME%" runs start.bat --port %PORT% at logon ^(install.bat --remove-task removes it^).
exit /b 0

:remove_task
schtasks /Query /TN "%TASK_NAME%" >nul 2>&1
if errorlevel 1 (
    echo no scheduled task "%TASK_NAME%": nothing to remove
    exit /b 0
)
schtasks /Delete /TN "%TASK_NAME%" /F
if errorlevel 1 (
    echo error: schtasks could not delete the task "%TASK_NAME%" 1>&2
    exit /b 1
)
echo removed the scheduled task "%TASK_NAME%"
exit /b 0

:usage
echo Usage: install.bat [--port N] [--admin] [--task ^| --remove-task]
echo.
echo Installs this folder as a Terminal node: creates .venv with Python 3.11 (py -3.11, or
echo python; set PYTHON to choose), installs requirements.txt when it changed, writes .env when
echo there is none (DATA_DIR=%%LOCALAPPDATA%%\constellation, or DATA_DIR when set;
echo NODE_ROLE=terminal), applies migrations, collects static files and creates the admin user
echo from ADMIN_USERNAME / ADMIN_PASSWORD. Running it again changes nothing already in place.
echo.
echo   --admin        also create an admin user now, asking for its name and password
echo   --task         register the Scheduled Task "Constellation" that runs start.bat at logon
echo                  (schtasks /SC ONLOGON; may need an administrator prompt)
echo   --remove-task  remove that task and stop; nothing else is touched
echo   --port N       the port the task's start.bat serves on, default 8000
echo   -h, --help     show this help
echo.
echo Then: start.bat serves, upgrade.bat upgrades (docs\lifecycle.md, Windows).
exit /b 0

:usage_error
echo Run install.bat --help for the options. 1>&2
exit /b 1
