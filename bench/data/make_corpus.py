"""Write a BEIR corpus.jsonl from a Markdown help centre (one row per article, `_id` = its path).

Run from anywhere: .venv/bin/python bench/data/make_corpus.py [SOURCE OUT]
Without arguments it writes every corpus of the sets written for this project:
  knowledge/sample_helpcentre       -> cadence-conversations, cadence-natural, heldout/cadence-natural-heldout
  small-helpcentre                  -> pocketbook-natural
  heldout/trailhead-helpcentre      -> heldout/trailhead-natural
"""

import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[1] / "knowledge" / "sample_helpcentre"
SETS = [
    (SAMPLE, HERE / "cadence-conversations"),
    (SAMPLE, HERE / "cadence-natural"),
    (SAMPLE, HERE / "heldout" / "cadence-natural-heldout"),
    (HERE / "small-helpcentre", HERE / "pocketbook-natural"),
    (HERE / "heldout" / "trailhead-helpcentre", HERE / "heldout" / "trailhead-natural"),
]


def split_front_matter(raw: str) -> tuple[dict, str]:
    """Return (front matter, body) for a Markdown file that starts with a '---' YAML block."""
    if not raw.startswith("---\n"):
        return {}, raw
    header, _, body = raw[4:].partition("\n---\n")
    return yaml.safe_load(header) or {}, body


def write_corpus(source: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = sorted(source.rglob("*.md"))
    with out.open("w", encoding="utf-8") as fh:
        for path in paths:
            meta, body = split_front_matter(path.read_text(encoding="utf-8"))
            row = {"_id": path.relative_to(source).as_posix(), "title": meta["title"], "text": body.strip()}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(paths)} articles to {out}")


def main() -> None:
    if len(sys.argv) == 3:
        write_corpus(Path(sys.argv[1]), Path(sys.argv[2]))
        return
    for source, folder in SETS:
        write_corpus(source, folder / "corpus.jsonl")


if __name__ == "__main__":
    main()
