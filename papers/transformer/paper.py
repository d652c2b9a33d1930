"""Vaswani et al. (2017), "Attention Is All You Need": citation and the numbers the paper reports.

Our metric keys (``module.TransformerModule``):

- ``test/bleu_tokenized``: BLEU of the test split as multi-bleu.perl computes it on Moses tokens
  (``bleu.tokenized_bleu``); the paper's Table 2 is this, cased, with tensor2tensor's compound
  splitting (``bleu.compound_split=true``, the paper preset's). ``test/bleu``: sacreBLEU on
  detokenised text, cased, its signature in the run folder's ``bleu.json``.
- ``val/ppl``: per-token perplexity of the development split under teacher forcing (Table 3's
  "PPL (dev)" is per word piece; ours is per BPE token of our vocabulary), ``val/bleu_tokenized``
  the development split's BLEU, decoded as the test split is (Table 3 uses no averaging).

Every ``Reported.setting`` starts with ``preset=<name>;``: the experiment whose runs it compares
with (``configs/experiment/transformer/<name>.yaml``); a run's summary sets beside its numbers only
those of its own preset.
"""

from __future__ import annotations

from common.registry import Paper, Reported

BIBTEX = r"""@inproceedings{vaswani2017attention,
  title     = {Attention Is All You Need},
  author    = {Vaswani, Ashish and Shazeer, Noam and Parmar, Niki and Uszkoreit, Jakob and
               Jones, Llion and Gomez, Aidan N. and Kaiser, {\L}ukasz and Polosukhin, Illia},
  booktitle = {Advances in Neural Information Processing Systems 30 (NIPS 2017)},
  pages     = {5998--6008},
  year      = {2017},
  note      = {arXiv:1706.03762}
}"""

NEWSTEST2014 = (
    "BLEU on newstest2014, tokenised and cased, compound words split (tensor2tensor's "
    "get_ende_bleu.sh), beam 4, alpha 0.6, averaged checkpoints"
)
DEV_PPL = "perplexity per word piece on newstest2013 (dev), no checkpoint averaging"
DEV_BLEU = "BLEU on newstest2013 (dev), beam 4, alpha 0.6, no checkpoint averaging"


def _table_2() -> list[Reported]:
    reported = []
    for preset, model, de, fr in (
        ("paper", "base", 27.3, None),
        ("big", "big", 28.4, None),
        ("paper_fr", "base", None, 38.1),
        ("big_fr", "big", None, 41.8),
    ):
        pair, value = ("EN-DE", de) if de is not None else ("EN-FR", fr)
        definition = NEWSTEST2014
        if preset == "big_fr":  # Section 6.1 gives this model 41.0: the table and abstract, 41.8
            definition += " (Section 6.1 says 41.0 for the same model)"
        setting = f"preset={preset}; Transformer ({model}), WMT14 {pair}"
        reported.append(Reported("test/bleu_tokenized", value, "Table 2", definition, setting))
    for method, de, fr in (  # the strongest single models and ensemble the paper compares with
        ("GNMT + RL", 24.6, 39.92),
        ("ConvS2S", 25.16, 40.46),
        ("ConvS2S Ensemble", 26.36, 41.29),
    ):
        for preset, value, pair in (("paper", de, "EN-DE"), ("paper_fr", fr, "EN-FR")):
            setting = f"preset={preset}; {method}, WMT14 {pair}"
            reported.append(
                Reported("test/bleu_tokenized", value, "Table 2", NEWSTEST2014, setting, method)
            )
    return reported


# Table 3: each row's change from the base model, its development perplexity and BLEU. The preset
# is the experiment that makes the row (configs/experiment/transformer/table3_*.yaml).
TABLE_3_ROWS = (
    ("paper", "base model", 4.92, 25.8),
    ("table3_a_h1", "(A) h = 1, d_k = d_v = 512", 5.29, 24.9),
    ("table3_a_h4", "(A) h = 4, d_k = d_v = 128", 5.00, 25.5),
    ("table3_a_h16", "(A) h = 16, d_k = d_v = 32", 4.91, 25.8),
    ("table3_a_h32", "(A) h = 32, d_k = d_v = 16", 5.01, 25.4),
    ("table3_b_dk16", "(B) d_k = 16", 5.16, 25.1),
    ("table3_b_dk32", "(B) d_k = 32", 5.01, 25.4),
    ("table3_c_n2", "(C) N = 2", 6.11, 23.7),
    ("table3_c_n4", "(C) N = 4", 5.19, 25.3),
    ("table3_c_n8", "(C) N = 8", 4.88, 25.5),
    ("table3_c_d256", "(C) d_model = 256, d_k = d_v = 32", 5.75, 24.5),
    ("table3_c_d1024", "(C) d_model = 1024, d_k = d_v = 128", 4.66, 26.0),
    ("table3_c_ff1024", "(C) d_ff = 1024", 5.12, 25.4),
    ("table3_c_ff4096", "(C) d_ff = 4096", 4.75, 26.2),
    ("table3_d_drop0", "(D) P_drop = 0.0", 5.77, 24.6),
    ("table3_d_drop02", "(D) P_drop = 0.2", 4.95, 25.5),
    ("table3_d_ls0", "(D) epsilon_ls = 0.0", 4.67, 25.3),
    ("table3_d_ls02", "(D) epsilon_ls = 0.2", 5.47, 25.7),
    ("table3_e_learned", "(E) learned positional embedding instead of sinusoids", 4.92, 25.7),
    ("big", "big model (300K steps)", 4.33, 26.4),
)


def _table_3() -> list[Reported]:
    reported = []
    for preset, row, ppl, bleu in TABLE_3_ROWS:
        setting = f"preset={preset}; WMT14 EN-DE, {row}"
        reported += [
            Reported("val/ppl", ppl, "Table 3", DEV_PPL, setting),
            Reported("val/bleu_tokenized", bleu, "Table 3", DEV_BLEU, setting),
        ]
    return reported


REPORTED = (*_table_2(), *_table_3())

# Table 2's training cost, EN-DE (the cost claims cite it; no run here measures it): training
# time x GPUs x sustained single-precision FLOP/s (2.8, 3.7, 6.0, 9.5 TFLOPS for K80, K40, M40,
# P100).
TRAINING_COST = {
    method: Reported(
        "train/flops", value, "Table 2", "training FLOPs, EN-DE", "WMT14 EN-DE", baseline
    )
    for method, value, baseline in (
        ("Transformer (base)", 3.3e18, ""),
        ("Transformer (big)", 2.3e19, ""),
        ("GNMT + RL", 2.3e19, "GNMT + RL"),
        ("ConvS2S", 9.6e18, "ConvS2S"),
    )
}


# Not the paper's: the published small-scale number the Multi30k claim is set beside (Wu et al.,
# ACL 2021, "Good for Misconceived Reasons", their Transformer-tiny text-only baseline). The claims
# refer to it; no run's summary sets it beside ours.
MULTI30K_REFERENCE = Reported(
    "test/bleu_tokenized",
    41.02,
    "Wu et al. 2021, Section 4 (text-only Transformer-tiny baseline; LividWo/Revisit-MMT)",
    "BLEU on Multi30k test2016 EN-DE, Moses-tokenised and lowercased, beam 5, average of the last "
    "10 checkpoints",
    "4+4 layers, d_model 128, d_ff 256, 4 heads, 10k joint BPE, 2.6M parameters, dropout 0.3, "
    "4,096-token batches, 8,000 updates",
)

PAPER = Paper(
    name="transformer",
    title="Attention Is All You Need",
    authors=(
        "Ashish Vaswani",
        "Noam Shazeer",
        "Niki Parmar",
        "Jakob Uszkoreit",
        "Llion Jones",
        "Aidan N. Gomez",
        "Lukasz Kaiser",
        "Illia Polosukhin",
    ),
    year=2017,
    venue="NIPS 2017",
    citation_key="vaswani2017attention",
    bibtex=BIBTEX,
    url="https://papers.nips.cc/paper/7181-attention-is-all-you-need",
    arxiv="1706.03762",
    reported=REPORTED,
    smoke_overrides=(
        "data.train_size=64",
        "data.val_size=8",
        "data.test_size=8",
        "data.vocab_size=64",
        "model.net.n_layers=1",
        "model.net.d_model=16",
        "model.net.d_ff=32",
        "model.net.heads=2",
        "trainer.max_epochs=1",
    ),
    select_reported=lambda cfg: PAPER.of_preset(cfg.preset.name),
)


def reported(metric: str, preset: str, baseline: str = "") -> Reported:
    """The one entry of ``metric`` for ``preset`` (and ``baseline``: another method's row)."""
    return PAPER.one(metric, preset, baseline)
