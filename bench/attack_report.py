"""BEFORE / AFTER tables from the attack harness's JSON documents (for issue 7's note):
`python -m bench.attacks --compare before.json [after.json]` prints Markdown."""

from __future__ import annotations

from typing import Any

#: Findings worth a column, per attack (the rest stay in the JSON).
KEY_FINDINGS = (
    "series_created",
    "environments_created",
    "db_growth_mib_per_request",
    "second_org_lines_skipped",
    "lists_per_project_data",
    "release_nodes",
    "sql_statements",
)


def _answers(answers: dict[str, dict[str, Any]]) -> list[str]:
    """Each answer as `label status [codes]`; consecutive equal answers share one entry
    (`query_0…query_9 (10×) 200 [...]`)."""
    runs: list[tuple[list[str], str]] = []
    for label, answer in answers.items():
        text = _answer(answer)
        if runs and runs[-1][1] == text:
            runs[-1][0].append(label)
        else:
            runs.append(([label], text))
    return [
        f"{', '.join(labels)} {text}"
        if len(labels) <= 3
        else f"{labels[0]}…{labels[-1]} ({len(labels)}×) {text}"
        for labels, text in runs
    ]


def _answer(answer: dict[str, Any]) -> str:
    status = answer.get("status") or answer.get("error") or "none"
    codes = sorted(
        {str(e.get("code") or "no code: " + e.get("message", "")[:40]) for e in answer.get("errors", [])}
    )
    extra = f" [{', '.join(codes)}]" if codes else ""
    size = answer.get("answer_bytes")
    if size:
        extra += f" {size / 2**20:.1f} MiB" if size >= 2**20 else f" {size / 1024:.0f} KiB"
    return f"{status}{extra}"


def summarize(result: dict[str, Any]) -> dict[str, str]:
    """One attack's result as short table cells."""
    if "rss_mib" not in result:
        return {"outcome": f"{result.get('outcome')}: {result.get('error', '')}"[:120]}
    rss = result["rss_mib"]
    victims = result.get("victims", {})

    def victim(name: str) -> str:
        v = victims.get(name, {})
        worst = max(v.get("max_ms", 0), v.get("unanswered_after_ms", 0))
        pending = " (unanswered)" if "unanswered_after_ms" in v else ""
        return f"{worst / 1000:.1f} s{pending}" if worst >= 1000 else f"{worst:.0f} ms{pending}"

    findings = result.get("findings", {})
    statuses = findings.get("statuses")
    answers = _answers(result.get("answers", {}))
    if statuses:
        answers.insert(0, "envelopes " + ", ".join(f"{k}×{n}" for k, n in sorted(statuses.items())))
    notes = [f"{k}={findings[k]}" for k in KEY_FINDINGS if k in findings]
    releases = findings.get("releases")
    if isinstance(releases, list):
        # `adoption` (users) is null by definition for a release without users (an
        # aggregate without `did`): session adoption is the number every release must have.
        nulls = [
            r.get("version")
            for r in releases
            if (r.get("health") or {}).get("totalSessions") is None
            or r.get("adoption") is None
            or ("sessionsAdoption" in r["adoption"] and r["adoption"]["sessionsAdoption"] is None)
        ]
        notes.append(f"releases with null health/adoption: {len(nulls)} of {len(releases)}")
    outcome = f"{result['outcome']} {result['seconds']} s"
    if result.get("readyz_after") != 200:
        outcome += f", readyz after: {result.get('readyz_after')}"
    if result.get("server_tracebacks"):
        outcome += f", {result['server_tracebacks']} tracebacks logged"
    return {
        "outcome": outcome,
        "answers": "; ".join(answers),
        "rss": f"{rss['before']:.0f} → {rss['peak']:.0f} (kept {rss['retained']:+.0f})",
        "victims": f"envelope {victim('envelope')}, graphql {victim('graphql')}",
        "findings": ", ".join(notes),
    }


def compare_markdown(before: dict[str, Any], after: dict[str, Any] | None = None) -> str:
    runs = [("BEFORE", before)] + ([("AFTER", after)] if after else [])
    lines = [
        f"{name}: `{doc['meta']['command']}` at {doc['meta']['commit']}, "
        f"{doc['meta']['date']}, {doc['meta']['backend']}  "
        for name, doc in runs
    ]
    lines += [
        "",
        "| attack | run | outcome | answers (status [error codes]) | server RSS MiB before → peak | "
        "victim latency (max) | findings |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    names = list(before["attacks"])
    if after:
        names += [n for n in after["attacks"] if n not in names]
    for name in names:
        for run, doc in runs:
            result = doc["attacks"].get(name)
            if result is None:
                continue
            s = summarize(result)
            cells = [s.get(k, "") for k in ("outcome", "answers", "rss", "victims", "findings")]
            lines.append(f"| {name} | {run} | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
