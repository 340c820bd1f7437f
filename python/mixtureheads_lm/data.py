"""Byte-level text data for the LM: UTF-8 bytes are ids 0..255 and 256 ends a document (as .NET's ByteTokenizer),
documents packed into one stream, cut into windows of T + 1 ids (inputs and next-token targets)."""
import os
import re

import torch

END_OF_TEXT = 256
VOCABULARY_SIZE = 257


def _brown_text(path):
    """A Brown corpus file (word/tag tokens) as plain text: tags stripped, punctuation attached to its word."""
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            for token in line.split():
                slash = token.rfind("/")
                if slash <= 0:
                    raise ValueError(f"{path}: token {token!r} is not word/tag")
                words.append(token[:slash])
    text = " ".join(words)
    text = re.sub(r" ([,.;:?!)']|'')", r"\1", text).replace("`` ", '"').replace("''", '"').replace("( ", "(")
    return text


def read_documents(paths):
    """Texts from files and folders. A folder holding cats.txt is read as the Brown corpus (the files it lists);
    another folder gives every regular file in it, sorted by name; a file gives its text."""
    documents = []
    for path in paths:
        if os.path.isdir(path):
            cats = os.path.join(path, "cats.txt")
            if os.path.isfile(cats):
                with open(cats, encoding="utf-8") as f:
                    names = [line.split()[0] for line in f if line.strip()]
                documents += [_brown_text(os.path.join(path, name)) for name in names]
            else:
                for name in sorted(os.listdir(path)):
                    file = os.path.join(path, name)
                    if os.path.isfile(file):
                        with open(file, encoding="utf-8", errors="replace") as f:
                            documents.append(f.read())
        elif os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                documents.append(f.read())
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not documents:
        raise ValueError(f"no text found in {paths}")
    return documents


def encode(documents):
    """One int64 stream: each document's UTF-8 bytes followed by END_OF_TEXT."""
    ids = []
    for text in documents:
        ids.extend(text.encode("utf-8"))
        ids.append(END_OF_TEXT)
    return torch.tensor(ids, dtype=torch.int64)


def windows(stream, length):
    """[N, length + 1] non-overlapping windows (the last ids that do not fill one are dropped)."""
    n = (stream.numel() - 1) // length
    if n < 1:
        raise ValueError(f"a stream of {stream.numel()} ids is shorter than one window of {length} + 1")
    starts = torch.arange(n) * length
    return torch.stack([stream[s:s + length + 1] for s in starts.tolist()])


def split(stream, validation_fraction):
    """(train, validation) streams: the last fraction of the ids is held out."""
    cut = int(round(stream.numel() * (1 - validation_fraction)))
    return stream[:cut], stream[cut:]
