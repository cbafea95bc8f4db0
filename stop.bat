@echo off
rem Stop what start.bat started (the server and the Celery worker), found as processes of this
rem folder's .venv python (scripts\_procs.ps1). The counterpart of stop.sh.
setlocal EnableExtensions DisableDelayedExpansion
cd /d "%~dp0"

if "%~1"=="" goto run
if /i "%~1"=="-h" goto usage
if /i "%~1"=="--help" goto usage
echo error: unknown argument: %~1 1>&2
echo Run stop.bat --help for the options. 1>&2
exit /b 1

:run
powershell -NoProfile -ExecutionPolicy Bypass -File "%~dp0scripts\_procs.ps1" stop "%~dp0."
if errorlevel 2 (
    echo error: a process could not be stopped ^(above^) 1>&2
    exit /b 1
)
if errorlevel 1 echo nothing running ^(no server or Celery worker of this folder's .venv^)
exit /b 0

:usage
echo Usage: stop.bat
echo.
echo Stops the server and the Celery worker that start.bat started: the processes of this
echo folder's .venv python running config.daphne_server, uvicorn or celery, each with its
echo process tree ^(taskkill /T /F^).
echo.
echo   -h, --help   show this help
exit /b 0
