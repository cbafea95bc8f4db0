@echo off
rem Upgrade a Windows Terminal node: the counterpart of upgrade.sh, a thin wrapper over the
rem manage.py lifecycle commands (target, history, backup, restore are Python, tested there).
rem Fetch, pick the target of the node's channel, back up the database, check out the target,
rem install requirements, migrate, collectstatic; on any failure check out the old commit,
rem reinstall its requirements and restore the backup. The node must be stopped (Windows keeps
rem the files of a running program locked); start it again with start.bat afterwards.
setlocal EnableExtensions DisableDelayedExpansion

rem cmd.exe reads a batch file line by line while it runs, and git checkout may replace this
rem one: run from a copy in %TEMP%, started without CALL, so this file is never read again.
if "%~1"=="--from-copy" goto from_copy
set "SELF_COPY=%TEMP%\constellation-upgrade-run.bat"
copy /y "%~f0" "%SELF_COPY%" >nul
if errorlevel 1 (
    echo error: could not copy upgrade.bat to "%SELF_COPY%" 1>&2
    exit /b 2
)
"%SELF_COPY%" --from-copy "%~dp0." %*

:from_copy
cd /d "%~2"
if errorlevel 1 (
    echo error: no folder "%~2" 1>&2
    exit /b 2
)
shift
shift
if not defined DJANGO_SETTINGS_MODULE set "DJANGO_SETTINGS_MODULE=config.settings"
rem Python writes UTF-8 whatever the console's code page (a reason may hold an arrow).
set "PYTHONIOENCODING=utf-8"

set "CHECK=0"
set "TO="
set "CHANNEL="
set "REMOTE=origin"
set "BRANCH=main"
set "BY=manual"

:parse
if "%~1"=="" goto parsed
if /i "%~1"=="-h" goto usage
if /i "%~1"=="--help" goto usage
if /i "%~1"=="--check" (
    set "CHECK=1"
    shift
    goto parse
)
set "OPTION=%~1"
set "VALUE=%~2"
if /i "%OPTION%"=="--to" goto take_value
if /i "%OPTION%"=="--channel" goto take_value
if /i "%OPTION%"=="--remote" goto take_value
if /i "%OPTION%"=="--branch" goto take_value
if /i "%OPTION%"=="--by" goto take_value
echo error: unknown argument: %~1 1>&2
goto usage_error

:take_value
if not defined VALUE goto missing_value
if "%VALUE:~0,1%"=="-" goto missing_value
set "%OPTION:~2%=%VALUE%"
shift
shift
goto parse

:missing_value
echo error: %OPTION% needs a value 1>&2
goto usage_error

:parsed
if not defined CHANNEL goto channel_ok
for %%C in (fixed stable latest unstable) do if /i "%CHANNEL%"=="%%C" goto channel_ok
echo error: --channel must be fixed, stable, latest or unstable, not "%CHANNEL%" 1>&2
exit /b 2
:channel_ok

set "VPY=%CD%\.venv\Scripts\python.exe"
if not exist "%VPY%" (
    echo error: no .venv here: run install.bat ^(or start.bat^) first 1>&2
    exit /b 2
)
git --version >nul 2>&1
if errorlevel 1 (
    echo error: git is not installed ^(or not on PATH^) 1>&2
    exit /b 2
)
git rev-parse --git-dir >nul 2>&1
if errorlevel 1 (
    echo error: %CD% is not a git checkout 1>&2
    exit /b 2
)
set "OUT=%TEMP%\constellation-upgrade-%RANDOM%%RANDOM%.txt"

git fetch --quiet --tags "%REMOTE%"
if errorlevel 1 (
    echo error: git fetch --tags %REMOTE% failed 1>&2
    exit /b 2
)

rem --- The target: manage.py lifecycle plan, the same selection as upgrade.sh's -----------
set "PLAN_ARGS=--remote "%REMOTE%" --branch "%BRANCH%" --cmd"
if defined CHANNEL set "PLAN_ARGS=%PLAN_ARGS% --channel %CHANNEL%"
if defined TO set "PLAN_ARGS=%PLAN_ARGS% --to "%TO%""
"%VPY%" manage.py lifecycle plan %PLAN_ARGS% > "%OUT%"
if errorlevel 1 (
    del "%OUT%" 2>nul
    echo error: could not pick the target ^(see above^) 1>&2
    exit /b 2
)
for %%K in (CHANNEL AVAILABLE REASON CURRENT_COMMIT CURRENT_VERSION TARGET_REF TARGET_COMMIT TARGET_VERSION) do set "PLAN_%%K="
for /f "usebackq tokens=1* delims==" %%A in (`findstr /b /c:"PLAN_" "%OUT%"`) do set "%%A=%%B"
del "%OUT%" 2>nul
if not defined PLAN_AVAILABLE (
    echo error: manage.py lifecycle plan said nothing 1>&2
    exit /b 2
)
if "%CHECK%"=="1" (
    call :say PLAN_REASON
    if "%PLAN_AVAILABLE%"=="1" exit /b 0
    exit /b 1
)
set "MSG=channel %PLAN_CHANNEL%: %PLAN_REASON%"
call :say MSG
set ATTEMPT=--channel "%PLAN_CHANNEL%" --by "%BY%" --from-version "%PLAN_CURRENT_VERSION%" --from-commit "%PLAN_CURRENT_COMMIT%" --to-ref "%PLAN_TARGET_REF%" --to-version "%PLAN_TARGET_VERSION%" --to-commit "%PLAN_TARGET_COMMIT%"
if not "%PLAN_AVAILABLE%"=="1" (
    "%VPY%" manage.py lifecycle finish %ATTEMPT% --result no_upgrade --detail "%PLAN_REASON%" >nul
    if errorlevel 1 echo warning: could not record the attempt
    exit /b 0
)

rem --- Refusals, before anything changes ------------------------------------------------
git status --porcelain --untracked-files=no > "%OUT%"
for %%F in ("%OUT%") do set "CHANGED=%%~zF"
if not "%CHANGED%"=="0" (
    type "%OUT%"
    del "%OUT%" 2>nul
    echo error: files of %CD% were changed by hand ^(above^): commit or discard them first 1>&2
    exit /b 2
)
powershell -NoProfile -ExecutionPolicy Bypass -File "%CD%\scripts\_procs.ps1" list "%CD%" 2>nul
if not errorlevel 1 (
    echo error: Constellation is running ^(above^): stop it ^(Ctrl+C in its window, or stop.bat^), then run upgrade.bat again 1>&2
    exit /b 2
)
set "OLD_COMMIT=%PLAN_CURRENT_COMMIT%"
set "OLD_BRANCH="
git symbolic-ref -q --short HEAD > "%OUT%" 2>nul
for /f "usebackq delims=" %%B in ("%OUT%") do set "OLD_BRANCH=%%B"
"%VPY%" -c "from django.conf import settings; print('DATA_DIR=' + str(settings.DATA_DIR.resolve())); import datetime; print('STAMP=' + datetime.datetime.now(datetime.timezone.utc).strftime('%%Y%%m%%dT%%H%%M%%SZ'))" > "%OUT%"
if errorlevel 1 (
    del "%OUT%" 2>nul
    echo error: could not read the settings ^(see above^) 1>&2
    exit /b 2
)
for /f "usebackq tokens=1* delims==" %%A in ("%OUT%") do set "%%A=%%B"

rem Written before the backup, so the row survives a restore and is finished afterwards.
set "UPGRADE_ID="
"%VPY%" manage.py lifecycle begin %ATTEMPT% > "%OUT%"
if errorlevel 1 echo warning: could not record the attempt's start; going on
for /f "usebackq delims=" %%I in ("%OUT%") do set "UPGRADE_ID=%%I"
set "ID_ARG="
if defined UPGRADE_ID set "ID_ARG=--id %UPGRADE_ID%"

echo == backing up the database
"%VPY%" manage.py lifecycle backup-suffix > "%OUT%"
if errorlevel 1 (
    set "REASON=could not tell how to back up this database"
    goto fail_before_change
)
set "SUFFIX="
for /f "usebackq delims=" %%S in ("%OUT%") do set "SUFFIX=%%S"
if not exist "%DATA_DIR%\backups" mkdir "%DATA_DIR%\backups"
set "BACKUP=%DATA_DIR%\backups\db-%STAMP%-%OLD_COMMIT:~0,8%%SUFFIX%"
"%VPY%" manage.py lifecycle backup "%BACKUP%"
if errorlevel 1 (
    set "REASON=the backup failed"
    goto fail_before_change
)

set "MSG=== checking out %PLAN_TARGET_VERSION% (%PLAN_TARGET_COMMIT%)"
call :say MSG
set "REASON=git checkout %PLAN_TARGET_COMMIT% failed"
git -c advice.detachedHead=false checkout --quiet --detach %PLAN_TARGET_COMMIT%
if errorlevel 1 goto rollback
echo == installing requirements
set "REASON=installing the requirements failed"
call :requirements
if errorlevel 1 goto rollback
echo == migrating
set "REASON=migrate failed"
"%VPY%" manage.py migrate --noinput
if errorlevel 1 goto rollback
echo == collecting static files
set "REASON=collectstatic failed"
"%VPY%" manage.py collectstatic --noinput --verbosity 0
if errorlevel 1 goto rollback

del "%OUT%" 2>nul
set "MSG=upgraded: %PLAN_CURRENT_VERSION% -> %PLAN_TARGET_VERSION% (backup: %BACKUP%)"
call :say MSG
"%VPY%" manage.py lifecycle finish %ATTEMPT% %ID_ARG% --result upgraded >nul
if errorlevel 1 echo warning: could not record the result
echo Start it again with start.bat.
exit /b 0

rem --- Failures -------------------------------------------------------------------------
:fail_before_change
del "%OUT%" 2>nul
set "MSG=error: %REASON%"
call :say MSG
"%VPY%" manage.py lifecycle finish %ATTEMPT% %ID_ARG% --result failed --detail "%REASON%" >nul
if errorlevel 1 echo warning: could not record the result
exit /b 1

:rollback
del "%OUT%" 2>nul
set "MSG=error: %REASON%"
call :say MSG
set "MSG=== rolling back to %PLAN_CURRENT_VERSION% (%OLD_COMMIT%)"
call :say MSG
set "ROLLBACK_OK=1"
if defined OLD_BRANCH (
    git checkout --quiet --force "%OLD_BRANCH%"
) else (
    git -c advice.detachedHead=false checkout --quiet --force --detach %OLD_COMMIT%
)
if errorlevel 1 set "ROLLBACK_OK=0"
set "HEAD_NOW="
for /f "delims=" %%H in ('git rev-parse HEAD') do set "HEAD_NOW=%%H"
if not "%HEAD_NOW%"=="%OLD_COMMIT%" (
    echo error: could not check out %OLD_COMMIT% again
    set "ROLLBACK_OK=0"
)
call :requirements
if errorlevel 1 (
    echo error: could not reinstall the old requirements
    set "ROLLBACK_OK=0"
)
echo == restoring the database from %BACKUP%
"%VPY%" manage.py lifecycle restore "%BACKUP%"
if errorlevel 1 set "ROLLBACK_OK=0"
if "%ROLLBACK_OK%"=="1" (
    set "RESULT=rolled_back"
    set "STATUS=1"
    set "MSG=rolled back: %PLAN_CURRENT_VERSION% is back; the upgrade to %PLAN_TARGET_VERSION% failed: %REASON%"
    call :say MSG
) else (
    set "RESULT=failed"
    set "STATUS=3"
    set "MSG=error: the rollback failed too (above); the backup is %BACKUP%"
    call :say MSG
)
rem After the restore, so the restored database keeps the record.
"%VPY%" manage.py lifecycle finish %ATTEMPT% %ID_ARG% --result %RESULT% --detail "%REASON%" >nul
if errorlevel 1 echo warning: could not record the result
exit /b %STATUS%

rem --- Helpers ---------------------------------------------------------------------------
rem Install requirements.txt when it differs from the last install (start.bat's stamp).
:requirements
set "STAMP_PY=import hashlib, pathlib, sys; d = hashlib.sha256(pathlib.Path('requirements.txt').read_bytes()).hexdigest(); s = pathlib.Path('.venv/.installed-requirements.txt.sha256')"
if not exist requirements.txt (
    echo no requirements.txt in this version
    exit /b 1
)
"%VPY%" -c "%STAMP_PY%; sys.exit(0 if s.exists() and s.read_text().strip() == d else 1)"
if not errorlevel 1 exit /b 0
"%VPY%" -m pip install --disable-pip-version-check --quiet -r requirements.txt
if errorlevel 1 exit /b 1
"%VPY%" -c "%STAMP_PY%; s.write_text(d)"
exit /b %errorlevel%

rem Print the variable named NAME, whatever characters it holds (^& ^| ^< ^> ^( ^)):
rem delayed expansion does not parse what it expands.
:say
setlocal EnableDelayedExpansion
echo(!%~1!
endlocal
exit /b 0

:usage
echo Usage: upgrade.bat [--check] [--to REF] [--channel NAME] [--remote NAME] [--branch NAME] [--by WHO]
echo.
echo Moves this Terminal to the target of its update channel (manage.py lifecycle channel):
echo   fixed     nothing (upgrade only with --to)
echo   stable    the newest release tag vX.Y.Z
echo   latest    the newest tag, pre-releases included
echo   unstable  the head of the main branch (REMOTE/BRANCH)
echo Steps: git fetch --tags; back up the database (DATA_DIR\backups); check out the target;
echo install requirements.txt; migrate; collectstatic. On any failure the old commit, its
echo requirements and the database backup are put back. Stop the node first (stop.bat) and
echo start it again with start.bat. Each attempt is recorded in the admin (Upgrades).
echo.
echo   --check         only say whether an upgrade is available (one line);
echo                   exit 0 when one is, 1 when not, 2 on error
echo   --to REF        upgrade (or go back) to this tag, branch or commit, whatever the channel
echo   --channel NAME  use this channel for this run: fixed, stable, latest or unstable
echo   --remote NAME   the git remote to fetch from (default: origin)
echo   --branch NAME   the main branch of the unstable channel (default: main)
echo   --by WHO        who asked, recorded with the attempt (default: manual)
echo   -h, --help      show this help
echo.
echo Exit status: 0 upgraded (or nothing to do), 1 failed and rolled back, 2 refused before
echo changing anything, 3 the rollback failed too.
exit /b 0

:usage_error
echo Run upgrade.bat --help for the options. 1>&2
exit /b 2
