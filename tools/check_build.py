#!/usr/bin/env python3
"""Import every function of a `sam build` output with the python3.13 runtime.

For each AWS::Serverless::Function of the built template, in a fresh
python3.13 process (``--python``, a venv standing in for the Lambda runtime:
boto3 and nothing else), this puts the function's built CodeUri dir and the
``python/`` dir of each of its built layers first on sys.path (Lambda's order:
/var/task, then /opt/python), sets the environment the template gives the
function (its intrinsics resolved with the parameters' defaults by the reader
the local runtime uses, imgflow_toolkit.cloudformation), imports the handler module and checks that the handler
attribute exists and is callable. It also checks that the built code does not
import anything from outside the build (the repo's src/, toolkit/ or .venv).

Before that, each built layer's ``python/`` must hold the core and what
src/requirements.txt installs, nothing else (``layer_problems``): not the
toolkit (imgflow_toolkit), not a dependency only the toolkit or the tests use
(pyproject's optional dependencies: moto, PyYAML, pytest, ...), not a
distribution no requirement pulls in, no *.egg-info and no bytecode copied
from the source tree. ``--layer-sizes`` prints the sizes of what it holds.

Runs in the aws-sam-cli venv (packaging reads the layer's requirements; the
template reader, imported from toolkit/ without installing the toolkit, needs
the PyYAML aws-sam-cli installs):

    .tools/sam/bin/python tools/check_build.py --python .tools/lambda-runtime/bin/python \
        --built .aws-sam/checks/build/template.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement

# The one reader of template.yaml, from the source tree: this venv has no toolkit.
_TOOLKIT = str(Path(__file__).resolve().parents[1] / "toolkit")
if _TOOLKIT not in sys.path:
    sys.path.insert(0, _TOOLKIT)
from imgflow_toolkit.cloudformation import NO_VALUE, REGION, Resolver, load_yaml  # noqa: E402

# Runs inside the python3.13 process: argv = [handler, path...].
BOOTSTRAP = r"""
import importlib, json, os, sys
handler, paths = sys.argv[1], sys.argv[2:]
sys.path[:0] = paths
module_name, _, attr = handler.rpartition(".")
module = importlib.import_module(module_name)
fn = getattr(module, attr, None)
if not callable(fn):
    raise SystemExit(f"{handler}: {module.__file__} has no callable {attr!r}")
outside = sorted(
    name for name, mod in list(sys.modules.items())
    if getattr(mod, "__file__", None)
    and any(os.path.abspath(mod.__file__).startswith(p) for p in json.loads(os.environ["CHECK_BUILD_FORBIDDEN"]))
)
if outside:
    raise SystemExit(f"{handler}: imported from outside the build: {outside[:10]}")
print(f"{sys.version.split()[0]} {module.__file__}")
"""


# The layer's top-level package (template.yaml: CoreLayer's ContentUri is src/)
# and what sam copies beside it.
CORE_PACKAGE = "imgflow"
LAYER_SOURCE_FILES = {CORE_PACKAGE, "requirements.txt"}
# Named whatever the metadata says: the toolkit, and what only it and the tests import.
NEVER_IN_LAYER = {"imgflow_toolkit", "moto", "yaml", "pytest", "_pytest"}
# Lambda's python3.13 on x86_64: the markers of the requirements pip resolved for the layer.
LAMBDA_MARKERS = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
}


def dist_name(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def toolkit_only_dists(pyproject: Path, layer_requirements: list[str]) -> set[str]:
    """pyproject's optional dependencies (the toolkit's, the benchmarks', the tests')
    that the layer's requirements do not name."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = {
        dist_name(Requirement(r).name)
        for group in project.get("optional-dependencies", {}).values()
        for r in group
    }
    core = {dist_name(Requirement(r).name) for r in layer_requirements}
    return optional - core - {dist_name(project["name"])}


def installed_dists(python: Path) -> dict[str, tuple[Path, object]]:
    """name -> (dist-info dir, its METADATA) for every distribution pip put in ``python``."""
    found = {}
    for info in sorted(python.glob("*.dist-info")):
        meta = Parser().parsestr((info / "METADATA").read_text(encoding="utf-8", errors="replace"))
        found[dist_name(meta["Name"])] = (info, meta)
    return found


def needed_dists(requirements: list[str], dists: dict[str, tuple[Path, object]]) -> set[str]:
    """The distributions ``requirements`` pull in, following Requires-Dist (with extras and
    markers evaluated for Lambda's python3.13 on x86_64)."""
    needed: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    queue = [Requirement(r) for r in requirements]
    while queue:
        req = queue.pop()
        name, extras = dist_name(req.name), frozenset(req.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        if name not in dists:
            continue
        for line in dists[name][1].get_all("Requires-Dist") or []:
            dep = Requirement(line)
            if dep.marker is None or any(
                dep.marker.evaluate({**LAMBDA_MARKERS, "extra": extra})
                for extra in [*sorted(extras), ""]
            ):
                queue.append(dep)
    return needed


def owned_entries(info: Path) -> set[str]:
    """The top-level entries of ``python/`` a distribution's RECORD lists as its own."""
    record = info / "RECORD"
    if not record.is_file():
        return {info.name}
    paths = (line.split(",", 1)[0] for line in record.read_text(encoding="utf-8").splitlines())
    return {p.split("/", 1)[0] for p in paths if p and not p.startswith("..")} | {info.name}


def layer_problems(python: Path, requirements: Path, pyproject: Path) -> list[str]:
    """Why this built layer's ``python/`` is not the core and its requirements alone ([] if it is)."""
    if not (python / CORE_PACKAGE).is_dir():
        return [f"{python}: no {CORE_PACKAGE}/ package"]
    lines = requirement_lines(requirements)
    dists = installed_dists(python)
    needed = needed_dists(lines, dists)
    toolkit_only = toolkit_only_dists(pyproject, lines)
    owned = set().union(*(owned_entries(info) for info, _ in dists.values()))
    problems = []
    for name, (info, _) in sorted(dists.items()):
        if name in toolkit_only:
            problems.append(
                f"{info.name}: {name} is a toolkit/test dependency (pyproject's optional dependencies)"
            )
        elif name not in needed:
            problems.append(
                f"{info.name}: no requirement of the layer ({requirements.name}) pulls in {name}"
            )
    for entry in sorted(p.name for p in python.iterdir()):
        if entry in NEVER_IN_LAYER:
            problems.append(f"{entry}: the toolkit or a toolkit-only dependency is in the layer")
        elif entry.endswith((".egg-info", ".egg-link", ".pth")) or entry.startswith("__editable__"):
            problems.append(f"{entry}: an editable install's metadata, copied from the source tree")
        elif entry not in LAYER_SOURCE_FILES | owned | {"__pycache__"}:
            problems.append(
                f"{entry}: neither the core nor installed by a requirement of the layer"
            )
    compiled = sorted(
        str(p.relative_to(python))
        for p in (python / CORE_PACKAGE).rglob("*")
        if p.name == "__pycache__" or p.suffix == ".pyc"
    )
    if compiled:
        problems.append(
            f"{CORE_PACKAGE}/: bytecode, copied or written into the build: {compiled[:5]}"
        )
    return problems


def tree_size(path: Path) -> int:
    """Bytes of the files under ``path`` (du -sb without the directories' own blocks)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def function_environment(resolver: Resolver, function: str) -> dict[str, str]:
    """The environment the template gives ``function`` (Globals' variables, then its
    own), resolved with the parameters' defaults, as Lambda would set it."""
    glob = (resolver.template.get("Globals") or {}).get("Function") or {}
    own = resolver.resources[function].get("Properties") or {}
    variables = {
        **((glob.get("Environment") or {}).get("Variables") or {}),
        **((own.get("Environment") or {}).get("Variables") or {}),
    }
    env = {}
    for key, value in variables.items():
        resolved = resolver.resolve(value)
        if resolved is not NO_VALUE:
            env[key] = str(resolved).lower() if isinstance(resolved, bool) else str(resolved)
    return env


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--python", required=True, help="python3.13 interpreter standing in for the Lambda runtime"
    )
    ap.add_argument("--built", required=True, type=Path, help="the template written by sam build")
    ap.add_argument(
        "--template", type=Path, help="the source template (only to name the repo root)"
    )
    ap.add_argument(
        "--layer-sizes", action="store_true", help="print each layer's size and its core's"
    )
    args = ap.parse_args()
    built = load_yaml(args.built)
    base = args.built.resolve().parent
    resolver = Resolver(built)
    glob = (built.get("Globals") or {}).get("Function") or {}
    resources = built.get("Resources") or {}
    repo = (args.template or Path("template.yaml")).resolve().parent
    forbidden = [
        str(repo / "src") + os.sep,
        str(repo / "functions") + os.sep,
        str(repo / "toolkit") + os.sep,
        str(repo / ".venv") + os.sep,
    ]

    functions = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"}
    if not functions:
        print(f"{args.built}: no AWS::Serverless::Function", file=sys.stderr)
        return 1
    failed = ok = bad_layers = 0
    # The layers first: the imports below must not be what adds to them.
    layers = {
        k: v for k, v in resources.items() if v.get("Type") == "AWS::Serverless::LayerVersion"
    }
    for name, res in sorted(layers.items()):
        python = base / str((res.get("Properties") or {}).get("ContentUri")) / "python"
        requirements = python / "requirements.txt"
        if not requirements.is_file():
            requirements = repo / "src" / "requirements.txt"
        problems = layer_problems(python, requirements, repo / "pyproject.toml")
        for problem in problems:
            print(f"{name}: {problem}", file=sys.stderr)
        bad_layers += bool(problems)
        sizes = (
            f" ({tree_size(python)} bytes, {CORE_PACKAGE}/ {tree_size(python / CORE_PACKAGE)})"
            if args.layer_sizes and python.is_dir()
            else ""
        )
        print(
            f"{name}: {'holds more than the core' if problems else 'the core and its requirements only'}{sizes}"
        )
    for name, res in sorted(functions.items()):
        props = {**glob, **(res.get("Properties") or {})}
        runtime = props.get("Runtime")
        handler = props.get("Handler")
        code = base / str(props.get("CodeUri", ""))
        paths = [str(code)]
        for layer in props.get("Layers") or []:
            if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in resources:
                content = (resources[layer["Ref"]].get("Properties") or {}).get("ContentUri")
                layer_dir = base / str(content)
                if not (layer_dir / "python").is_dir():
                    print(
                        f"{name}: layer {layer['Ref']} built without a python/ dir ({layer_dir})",
                        file=sys.stderr,
                    )
                    failed += 1
                paths.append(str(layer_dir / "python"))
        if runtime != "python3.13" or not handler or not code.is_dir():
            print(
                f"{name}: runtime={runtime} handler={handler} code={code}: not a built python3.13 function",
                file=sys.stderr,
            )
            failed += 1
            continue
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
            "CHECK_BUILD_FORBIDDEN": json.dumps(forbidden),
        }
        env.update(function_environment(resolver, name))
        proc = subprocess.run(
            # -B: -I ignores PYTHONDONTWRITEBYTECODE, and bytecode written into the
            # build would be deployed with it.
            [args.python, "-I", "-B", "-c", BOOTSTRAP, handler, *paths],
            env=env,
            cwd=code,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            failed += 1
            print(
                f"{name}: importing {handler} failed:\n{proc.stdout}{proc.stderr}", file=sys.stderr
            )
        else:
            ok += 1
            print(f"{name}: {handler} OK ({proc.stdout.strip()})")
    print(
        f"check_build: {ok}/{len(functions)} functions import, "
        f"{len(layers) - bad_layers}/{len(layers)} layers hold the core and its requirements only"
    )
    return 1 if failed or bad_layers else 0


if __name__ == "__main__":
    sys.exit(main())
