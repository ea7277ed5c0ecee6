"""Class-head initialisation across class sets (LAYOUTFT.INIT_CLASS_MAP): a PubLayNet
checkpoint's rows start DocLayNet's 11 classes, with real tensors."""

from __future__ import annotations

import pytest
import torch

from layoutft.checkpoint import apply_weights
from layoutft.checkpoint.heads import BUILTIN_CLASS_MAPS, resolve_class_map
from layoutft.config import default_config
from layoutft.errors import CheckpointError
from tests.test_checkpoint_apply import BOX_W, CLS_B, CLS_W, MASK_W, PUBLAYNET, _ckpt, _Heads

DOCLAYNET = ["Caption", "Footnote", "Formula", "List-item", "Page-footer", "Page-header",
             "Picture", "Section-header", "Table", "Text", "Title"]  # fmt: skip
# where each DocLayNet class's rows must come from (index into PUBLAYNET)
SOURCE_ROW = {"Caption": 0, "Footnote": 0, "Formula": 0, "List-item": 2, "Page-footer": 0,
              "Page-header": 0, "Picture": 4, "Section-header": 1, "Table": 3, "Text": 0,
              "Title": 1}  # fmt: skip


def test_doclaynet_rows_start_from_the_closest_publaynet_row() -> None:
    ckpt = _ckpt(5, PUBLAYNET)
    model = _Heads(11)
    aliases = resolve_class_map(["doclaynet-from-publaynet"])
    report = apply_weights(model, ckpt, labels=DOCLAYNET, aliases=aliases)
    sd, src = model.state_dict(), ckpt.state_dict
    for j, name in enumerate(DOCLAYNET):
        i = SOURCE_ROW[name]
        for key in (CLS_W, CLS_B, MASK_W):
            assert torch.equal(sd[key][j], src[key][i]), (key, name)
        assert torch.equal(sd[BOX_W][4 * j : 4 * j + 4], src[BOX_W][4 * i : 4 * i + 4]), name
    assert torch.equal(sd[CLS_W][11], src[CLS_W][5])  # background, last in both
    note = (
        "3 of 11 classes matched by name; from INIT_CLASS_MAP: Caption<-text, Footnote<-text, "
        "Formula<-text, List-item<-list, Page-footer<-text, Page-header<-text, "
        "Picture<-figure, Section-header<-title"
    )
    assert set(report.heads.values()) == {note}
    # said once for the three heads
    assert report.message().count("matched by name") == 1


def test_name_matches_win_and_unmapped_classes_start_fresh() -> None:
    ckpt = _ckpt(5, PUBLAYNET)
    model = _Heads(3)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    # "table" matches by name although the map points it at figure; "Note" maps to a class
    # the checkpoint lacks; "Stamp" is not mapped
    aliases = resolve_class_map([["table", "figure"], ["Note", "footnote"]])
    report = apply_weights(model, ckpt, labels=["table", "Note", "Stamp"], aliases=aliases)
    sd, src = model.state_dict(), ckpt.state_dict
    assert torch.equal(sd[CLS_W][0], src[CLS_W][3])
    assert torch.equal(sd[CLS_W][1], fresh[CLS_W][1])
    assert torch.equal(sd[CLS_W][2], fresh[CLS_W][2])
    assert set(report.heads.values()) == {
        "1 of 3 classes matched by name; start from fresh weights: Note, Stamp"
    }


def test_class_map_entries() -> None:
    assert resolve_class_map([]) == {}
    both = resolve_class_map(["doclaynet-from-publaynet", ["Caption", "title"]])
    assert both["Caption"] == "title" and both["Text"] == "text"  # later entries win
    assert set(BUILTIN_CLASS_MAPS["doclaynet-from-publaynet"]) == set(DOCLAYNET)
    with pytest.raises(CheckpointError, match=r"entry 'doclaynet'.*doclaynet-from-publaynet"):
        resolve_class_map(["doclaynet"])
    cfg = default_config()
    cfg.merge_from_list(["LAYOUTFT.INIT_CLASS_MAP", "['doclaynet-from-publaynet', ['A', 'b']]"])
    assert resolve_class_map(cfg.LAYOUTFT.INIT_CLASS_MAP)["A"] == "b"


def test_forms_start_from_the_doclaynet_section_header_and_text_rows() -> None:
    ckpt = _ckpt(11, DOCLAYNET)
    model = _Heads(4)
    forms = ["header", "question", "answer", "other"]  # what `convert --from funsd` writes
    aliases = resolve_class_map(["forms-from-doclaynet"])
    apply_weights(model, ckpt, labels=forms, aliases=aliases)
    sd, src = model.state_dict(), ckpt.state_dict
    section_header, text = DOCLAYNET.index("Section-header"), DOCLAYNET.index("Text")
    for j, i in enumerate([section_header, text, text, text]):
        for key in (CLS_W, CLS_B, MASK_W):
            assert torch.equal(sd[key][j], src[key][i]), (key, forms[j])
