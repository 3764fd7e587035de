"""Write trailhead-natural/corpus.jsonl from the held-out Trailhead help centre (one row per article).

Same conversion as bench/data/make_cadence_corpus.py. Run from anywhere:
.venv/bin/python bench/data/heldout/trailhead-natural/make_corpus.py
"""

import json
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "trailhead-helpcentre"
OUT = HERE / "corpus.jsonl"


def split_front_matter(raw: str) -> tuple[dict, str]:
    """Return (front matter, body) for a Markdown file that starts with a '---' YAML block."""
    if not raw.startswith("---\n"):
        return {}, raw
    header, _, body = raw[4:].partition("\n---\n")
    return yaml.safe_load(header) or {}, body


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    paths = sorted(SOURCE.rglob("*.md"))
    with OUT.open("w", encoding="utf-8") as fh:
        for path in paths:
            meta, body = split_front_matter(path.read_text(encoding="utf-8"))
            row = {"_id": path.relative_to(SOURCE).as_posix(), "title": meta["title"], "text": body.strip()}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(paths)} articles to {OUT}")


if __name__ == "__main__":
    main()
