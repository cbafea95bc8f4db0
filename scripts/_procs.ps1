# Find, or stop, the processes of this project that start.bat started: config.supervise and its
# children (the ASGI server, the Celery worker and beat), run by this folder's .venv python.
# Used by start.bat, stop.bat and upgrade.bat.
#   powershell -NoProfile -ExecutionPolicy Bypass -File scripts\_procs.ps1 list|stop ROOT
# list: one line "PID NAME" each; exit 0 when any runs, 1 when none.
# stop: stop each with its process tree; exit 0 when any was stopped, 1 when none ran, 2 when one
# could not be stopped.
param(
    [Parameter(Mandatory = $true)][ValidateSet('list', 'stop')][string]$Action,
    [Parameter(Mandatory = $true)][string]$Root
)
$ErrorActionPreference = 'Stop'

# The venv's python.exe is a launcher that runs the base interpreter as its child: match the
# launcher by its path (this folder's, not another checkout's) and stop it with its tree.
$python = [System.IO.Path]::GetFullPath((Join-Path $Root '.venv\Scripts\python.exe'))
$markers = [ordered]@{
    # config.supervise runs the others as its children: stopping its tree stops them all.
    'supervisor'    = '-m config.supervise'
    'daphne'        = 'config.daphne_server'
    'uvicorn'       = '-m uvicorn config.asgi'
    'celery worker' = '-m celery -A config worker'
    'celery beat'   = '-m celery -A config beat'
}

$found = @()
foreach ($proc in Get-CimInstance Win32_Process -Filter "Name = 'python.exe'") {
    if (-not $proc.ExecutablePath -or -not $proc.CommandLine) { continue }
    if ($proc.ExecutablePath -ne $python) { continue }  # -ne ignores case, as Windows paths do
    foreach ($name in $markers.Keys) {
        if ($proc.CommandLine.Contains($markers[$name])) {
            $found += [pscustomobject]@{ Id = $proc.ProcessId; Name = $name }
            break
        }
    }
}

if ($found.Count -eq 0) { exit 1 }
if ($Action -eq 'list') {
    foreach ($each in $found) { Write-Output "$($each.Id) $($each.Name)" }
    exit 0
}
# Console programs do not answer a polite close (taskkill without /F): /F /T is the stop.
$failed = $false
foreach ($each in $found) {
    & taskkill.exe /PID $each.Id /T /F | Out-Null
    if ($LASTEXITCODE -ne 0 -and (Get-Process -Id $each.Id -ErrorAction SilentlyContinue)) {
        Write-Output "could not stop $($each.Name) (pid $($each.Id))"
        $failed = $true
    } else {
        Write-Output "stopped $($each.Name) (pid $($each.Id))"
    }
}
if ($failed) { exit 2 }
exit 0
