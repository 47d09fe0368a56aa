"""What each sub-command's help says: a description, an example and its exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CHANGES = 3  # `plan` with changes to make, `drift` with drift found
EXIT_STALE = 4  # `setup --plan FILE`: the world or the spec changed since the plan was made

EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: stopped at a safe point

_CODES = {
    EXIT_OK: "success",
    EXIT_ERROR: "failed (the message says what to do next)",
    EXIT_USAGE: "bad input: invalid config, unknown stack, wrong arguments, or a policy "
    "finding under stack.policy: mandatory",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C, SIGTERM): stopped at a safe point; re-running resumes",
}


def epilog(example: str, **codes: str) -> str:
    """An epilog: the example, then the exit codes (`codes` overrides or adds, keyed c0..c3)."""
    table = dict(_CODES)
    for key, text in codes.items():
        table[int(key.removeprefix("c"))] = text
    lines = ["example:", *(f"  {line}" for line in example.strip().splitlines()), "", "exit codes:"]
    lines += [f"  {code}  {text}" for code, text in sorted(table.items())]
    return "\n".join(lines)


DESCRIPTIONS = {
    "plan": "Read the world and show what setup would create, change or leave in place (each "
    "field that differs, found and expected in full), the policy findings and the monthly cost. "
    "Makes no change. Like `terraform plan`: exit 0 when nothing would change, 3 when changes "
    "are planned; --out saves the plan for `setup --plan`. --destroy shows what cleanup would "
    "remove and what it would leave instead.",
    "setup": "Run the setup flow: subdomain zone, delegation, certificates, IAM, controller, "
    "Ingress, ALB, DNS record, then check https://kubeflow.<subdomain>/. Re-running resumes and "
    "converges; a run that finds everything in place changes nothing.",
    "cleanup": "Show what cleanup removes and what it leaves, ask (a terminal: type yes; else "
    "--yes or KFALB_YES=1), then run the cleanup flow: remove everything the stack created, in "
    "reverse order, from its saved block or (block lost) from the ownership tags alone, then "
    "report what is left. A stack with no saved block and no --config: nothing to remove.",
    "drift": "Run the drift check: compare every resource of a stack with its desired state (read "
    "only) and print the drifted fields as `plan` does, found and expected in full, with the "
    "command that repairs them; --remediate re-applies what drifted.",
    "server": "Show, start or stop the local Prefect server kfalb keeps for its flows when "
    "PREFECT_API_URL names none: started on first use, on the database of PREFECT_HOME, its UI "
    "at the address `kfalb server status` prints.",
    "stacks": "List the saved stacks (LoadBalancerStack blocks): name, phase, cluster, dashboard.",
    "unlock": "Break a stack's lock (or, with --cluster and --region, a cluster's lock) by hand: "
    "for a run that died and whose lease has not lapsed yet (it lapses by itself after "
    "KFALB_LOCK_LEASE_SECONDS). If the holder is alive, two runs may then change the stack (or "
    "the cluster's shared controller, IAM and subnet tags) at once.",
    "import": "Record a stack that the kubeflow-manifests script set up (its written-back config) "
    "as adopted resources of a new stack, so drift and cleanup work on it; with "
    "--take-ownership they are tagged and become the stack's own (cleanup then removes them).",
    "demo": "Start the bundled sandbox, run setup, the drift check and cleanup against it.",
    "sandbox": "Start, inspect or stop the stand-in world (AWS, Kubernetes, DNS, HTTPS on "
    "127.0.0.1), and edit the DNS zone it hosts outside Route53.",
}

EPILOGS = {
    "plan": epilog(
        "kfalb plan --config config.yaml\nkfalb plan --stack platform-example-com\n"
        "kfalb plan --config config.yaml --output json | jq .summary\n"
        "kfalb plan --config config.yaml --out plan.json   # then: kfalb setup --plan plan.json\n"
        "kfalb plan --destroy --stack platform-example-com",
        c0="nothing would change",
        c3="changes are planned (see the table, or the JSON document)",
    ),
    "setup": epilog(
        "kfalb setup --config config.yaml\nkfalb setup --plan plan.json   # only if the plan is still the same",
        c1="failed; re-running resumes, `kfalb cleanup --stack NAME` removes what was created",
        c4="--plan: stale plan (the world or the spec changed since it was made); nothing applied",
    ),
    "cleanup": epilog(
        "kfalb cleanup --stack platform-example-com\nkfalb cleanup --config config.yaml --yes",
        c1="failed, declined, or something was left (listed); re-running resumes",
        c2="bad input, or no terminal to ask on and no --yes (nothing removed)",
    ),
    "drift": epilog(
        "kfalb drift --stack platform-example-com\nkfalb drift --all\n"
        "kfalb drift --stack platform-example-com --output json",
        c0="no drift (or all of it repaired with --remediate)",
        c3="drift found",
    ),
    "stacks": epilog("kfalb stacks"),
    "server": epilog("kfalb server status\nkfalb server stop"),
    "import": epilog(
        "kfalb import --config written-back.yaml\nkfalb import --config written-back.yaml --take-ownership"
    ),
    "unlock": epilog(
        "kfalb unlock --stack platform-example-com\n"
        "kfalb unlock --cluster kubeflow --region us-west-2"
    ),
    "demo": epilog("kfalb demo\nkfalb demo --keep    # leave it running to explore"),
    "sandbox": epilog(
        "kfalb sandbox up --detach && . .kfalb-sandbox/env\n"
        "kfalb sandbox up --cluster kubeflow-b@234567890123:eu-west-1 --detach   # a fleet\n"
        "kfalb sandbox dns add platform.example.com NS ns-1.awsdns-00.com ns-2.awsdns-01.net\n"
        "kfalb sandbox down"
    ),
}
