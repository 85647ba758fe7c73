"""Keep the version table of ``models/MODEL_CARD.md`` in step with the artefacts' manifests."""

from __future__ import annotations

from pathlib import Path

from feedback_miner.adapters.artefacts import current_version, list_versions, load_classifier

__all__ = ["update_model_card", "versions_table"]

START, END = "<!-- versions:start -->", "<!-- versions:end -->"


def versions_table(models_dir: Path) -> str:
    root = models_dir / "classifier"
    cur = current_version(root)
    lines = ["| version | current | created | examples | confirmations (train/val) | seed-CV macro-F1 | seed-CV ECE | eval macro-F1 |",
             "|---|---|---|---:|---|---:|---:|---:|"]
    for v in list_versions(root):
        _, m = load_classifier(root, v)
        sc = m.get("scores", {})
        conf = m.get("confirmations") or {}
        ev = sc.get("eval_macro_f1", "—")
        lines.append(f"| {v} | {'yes' if v == cur else ''} | {m['created_at'][:10]} | {m['training']['n_examples']} | "
                     f"{conf.get('train', 0)}/{conf.get('validation', 0)} | {sc.get('seed_cv_macro_f1', '—')} | "
                     f"{(sc.get('seed_cv_reliability') or {}).get('ece', '—')} | {ev} |")
    return "\n".join(lines)


def update_model_card(models_dir: Path) -> None:
    card = models_dir / "MODEL_CARD.md"
    text = card.read_text(encoding="utf-8") if card.exists() else "# Model card\n"
    block = f"{START}\n{versions_table(models_dir)}\n{END}"
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n## Versions\n\n" + block + "\n"
    card.write_text(text, encoding="utf-8")
