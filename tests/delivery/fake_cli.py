"""A recording fake of the `pulumi` and `gcloud` CLIs, for running the README's deploy block.

Installed as two executables on PATH (``install(bin_dir, log, state)``). Every call is appended
to the log as JSON; the fake keeps the state a real CLI would (selected stack, config, deployed)
and refuses what the real one would refuse, or what would leave a deploy that cannot work
(``up`` before the project, region and API keys are set).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

PLACEHOLDER_PROJECTS = {"my-gcp-project-dev", "my-gcp-project-prod", ""}


def _state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {"stack": None, "config": {}, "secret": [], "up": False}


def pulumi(args: list[str], state: dict[str, Any]) -> int:
    if args[:1] in (["login"], ["install"]):
        return 0
    if args[:2] == ["stack", "select"] and "--create" in args or args[:2] == ["stack", "init"]:
        state["stack"] = [a for a in args[2:] if not a.startswith("-")][0]
        return 0
    stack = args[args.index("--stack") + 1] if "--stack" in args else state["stack"]
    if stack is None:
        print("error: no stack selected; please use `pulumi stack select`", file=sys.stderr)
        return 255
    if args[:2] == ["config", "set"]:
        key, value = [a for a in args[2:] if not a.startswith("--")]
        state["config"][key] = value
        if "--secret" in args:
            state["secret"].append(key)
        return 0
    if args[:2] == ["config", "get"]:
        print(state["config"][args[2]])
        return 0
    if args[:1] == ["up"]:
        config = state["config"]
        missing = [k for k in ("gcp:project", "gcp:region") if config.get(k, "") in PLACEHOLDER_PROJECTS]
        if "cloudrun-celery:apiKeys" not in state["secret"]:
            missing.append("cloudrun-celery:apiKeys (as a secret)")
        if missing:
            print(f"fake pulumi: up before {', '.join(missing)} was set", file=sys.stderr)
            return 1
        state["up"] = True
        return 0
    if args[:3] == ["stack", "output", "--json"]:
        if not state["up"]:
            print("error: no outputs: the stack was never deployed", file=sys.stderr)
            return 255
        # Like the program: the verify-key secret exists only when verifyKey was set, as a secret.
        names = {"verify-key": "celery-dev-verify-key"} if "cloudrun-celery:verifyKey" in state["secret"] else {}
        print(json.dumps({"api_url": os.environ["FAKE_API_URL"], "secret_names": names}))
        return 0
    print(f"fake pulumi: unexpected command: pulumi {' '.join(args)}", file=sys.stderr)
    return 9


def gcloud(args: list[str], state: dict[str, Any]) -> int:
    if args[:1] == ["auth"]:
        return 0
    if args[:4] == ["secrets", "versions", "access", "latest"]:
        expected = ["--secret=celery-dev-verify-key", f"--project={state['config'].get('gcp:project')}"]
        if args[4:] != expected:
            print(f"fake gcloud: expected {expected}, got {args[4:]}", file=sys.stderr)
            return 1
        print(os.environ["FAKE_VERIFY_KEY"])
        return 0
    print(f"fake gcloud: unexpected command: gcloud {' '.join(args)}", file=sys.stderr)
    return 9


def main(tool: str) -> int:
    args = sys.argv[1:]
    log, state_path = Path(os.environ["FAKE_CLI_LOG"]), Path(os.environ["FAKE_CLI_STATE"])
    with log.open("a") as f:
        f.write(json.dumps([tool, *args]) + "\n")
    state = _state(state_path)
    code = (pulumi if tool == "pulumi" else gcloud)(args, state)
    state_path.write_text(json.dumps(state))
    return code


def install(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("pulumi", "gcloud"):
        path = bin_dir / tool
        path.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                        f"import fake_cli\nsys.exit(fake_cli.main({tool!r}))\n")
        path.chmod(0o755)


