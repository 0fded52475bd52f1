"""Chinese analysis shared by the search backends: plain functions, no app or database."""

from __future__ import annotations

import threading

import pytest
from opencc import OpenCC

from search import analysis
from search.analysis import bigrams, expand_synonyms, normalise, query_tokens, segmented, tokenize
from search.synonyms import SynonymFileError, SynonymTable, parse_groups

BRIEF_TERMS = """
深远海养殖工船 海藻酸盐 压载水 导管架 阴极保护 热泵空调 电池热管理
固态电池 质子交换膜 电解水制氢 储氢瓶 碳纤维复合材料 工业互联网 机器视觉
数字孪生 减速器 转向架 焊缝 光刻胶 生物医用材料 海水淡化 反渗透膜 冷链
保鲜 隔热材料 盐碱地 飞秒激光 中子散射
""".split()


def synonym_groups() -> list[tuple[str, ...]]:
    return parse_groups(analysis.data_lines("synonyms.txt"))


@pytest.mark.parametrize("term", BRIEF_TERMS)
def test_tokenize_domain_term_alone_stays_whole(term):
    assert tokenize(term) == [term]


@pytest.mark.parametrize(
    ("sentence", "term"),
    [
        ("建造一艘深远海养殖工船用于黄海冷水团养殖", "深远海养殖工船"),
        ("以海藻酸盐为基材制备医用敷料", "海藻酸盐"),
        ("冬季工况下热泵空调与电池热管理联合控制", "电池热管理"),
        ("新型质子交换膜的耐久性测试", "质子交换膜"),
        ("海上风电场电解水制氢示范", "电解水制氢"),
    ],
)
def test_tokenize_domain_term_in_sentence_stays_whole(sentence, term):
    assert term in tokenize(sentence)


def test_tokenize_every_dictionary_term_alone_stays_whole():
    split = [(w, tokenize(w)) for w, _, _ in analysis.domain_terms() if tokenize(w) != [w]]
    assert split == []


def test_tokenize_traditional_input_same_tokens_as_simplified():
    assert tokenize("海藻酸鹽醫用敷料") == tokenize("海藻酸盐医用敷料")
    assert tokenize("海藻酸鹽醫用敷料")[0] == "海藻酸盐"


def test_normalise_fullwidth_latin_halfwidth_lowercase():
    assert normalise("ＩＭＯ　Ｄ－２") == "imo d-2"


def test_normalise_runs_of_whitespace_single_space():
    assert normalise("  压载水\t\n处理   系统 ") == "压载水 处理 系统"


def test_normalise_traditional_phrase_converted_by_context():
    # 覆 and 瞭 stay as they are alone; only the phrase tables turn them into 复 / 了.
    assert normalise("反覆測試，瞭解乾燥工藝") == "反复测试,了解干燥工艺"


@pytest.mark.parametrize(
    "text",
    ["反覆回覆", "沈默的船", "一目瞭然", "乾隆年間", "頭髮與發展", "压载水處理", "纯简体文本，没有繁体", "IMO D-2"],
)
def test_normalise_shortcut_same_as_full_opencc_conversion(text):
    assert analysis._to_simplified(text) == OpenCC("t2s").convert(text)


def test_tokenize_fullwidth_latin_kept_as_words():
    assert tokenize("ＩＭＯ　Ｄ－２标准") == ["imo", "d-2", "标准"]


def test_tokenize_latin_with_units_kept_whole():
    tokens = tokenize("5G基站在80℃下运行，PM2.5低于35 μg/m³")
    assert {"5g", "80°c", "pm2.5", "35", "μg/m3"} <= set(tokens)


def test_tokenize_stopwords_and_punctuation_dropped():
    tokens = tokenize("我们公司的技术和产品，与、及等。")
    assert tokens == ["产品"]


def test_tokenize_repeated_token_kept_for_term_frequency():
    assert tokenize("压载水，压载水").count("压载水") == 2


def test_tokenize_same_text_twice_same_tokens():
    text = "基于过滤+中压紫外/过氧化氢高级氧化的船舶压载水处理系统，满足IMO D-2标准"
    assert tokenize(text) == tokenize(text)


def test_tokenize_empty_text_no_tokens():
    assert tokenize("") == []
    assert tokenize(" ，。！ ") == []


def test_segmented_tokens_joined_by_single_spaces():
    assert segmented("车厢保温材料") == " ".join(tokenize("车厢保温材料"))
    assert "  " not in segmented("压载水 ， 处理")


def test_query_tokens_plain_word_brings_technical_synonym():
    assert "隔热" in query_tokens("车厢保温")


def test_query_tokens_original_tokens_first_unchanged():
    text = "冬天电动车续航掉一半"
    tokens = tokenize(text)
    assert query_tokens(text)[: len(tokens)] == tokens


def test_query_tokens_expansion_deduplicated():
    expanded = query_tokens("保温隔热绝热保温")
    added = expanded[len(tokenize("保温隔热绝热保温")) :]
    assert added == []


def test_expand_synonyms_multi_token_synonym_drops_single_characters():
    # 纯电动车 is 纯 + 电动车: the lone 纯 must not be added to the query.
    assert "纯" not in expand_synonyms(["电动汽车"])


def test_expand_synonyms_multi_token_member_matches_token_sequence():
    assert "节电" in expand_synonyms(tokenize("省电"))


def test_synonyms_every_pair_expands_both_ways():
    missing = []
    for group in synonym_groups():
        for a in group:
            expanded = set(expand_synonyms(tokenize(a)))
            for b in group:
                wanted = [t for t in tokenize(b) if len(t) > 1 or len(tokenize(b)) == 1]
                if not set(wanted) <= expanded:
                    missing.append((a, b))
    assert missing == []


def test_synonyms_file_at_least_120_groups_all_parse():
    groups = synonym_groups()
    assert len(groups) >= 120
    assert all(len(g) >= 2 and len(set(g)) == len(g) and all(g) for g in groups)


def test_synonyms_file_members_already_normalised_and_tokenisable():
    members = [m for g in synonym_groups() for m in g]
    assert [m for m in members if normalise(m) != m] == []
    assert [m for m in members if not tokenize(m)] == []


def test_parse_groups_duplicate_member_rejected():
    with pytest.raises(SynonymFileError):
        parse_groups(["噪音,噪声,噪音"])


def test_parse_groups_single_member_or_empty_member_rejected():
    with pytest.raises(SynonymFileError):
        parse_groups(["噪音"])
    with pytest.raises(SynonymFileError):
        parse_groups(["噪音,,噪声"])


def test_parse_groups_comments_and_blank_lines_skipped():
    assert parse_groups(["# 说明", "", "噪音,噪声  # 注释"]) == [("噪音", "噪声")]


def test_synonym_table_member_of_only_stopwords_rejected():
    with pytest.raises(SynonymFileError):
        SynonymTable([("的", "噪声")], tokenize)


def test_domain_dict_every_line_parses_without_duplicates():
    terms = analysis.domain_terms()
    words = [w for w, _, _ in terms]
    assert len(words) >= 300
    assert len(set(words)) == len(words)
    assert all(freq and freq > 0 and tag for _, freq, tag in terms)
    assert [w for w in words if normalise(w) != w or " " in w] == []


def test_bigrams_cjk_run_overlapping_pairs():
    assert bigrams("海水淡化") == ["海水", "水淡", "淡化"]


def test_bigrams_single_character_run_and_latin_words():
    assert bigrams("水 ＩＭＯ D-2，膜") == ["水", "imo", "d-2", "膜"]


def test_bigrams_traditional_input_normalised():
    assert bigrams("鹽鹼地") == ["盐碱", "碱地"]


def test_get_tokenizer_called_twice_same_object():
    assert analysis.get_tokenizer() is analysis.get_tokenizer()


def test_get_tokenizer_concurrent_first_use_builds_once(monkeypatch):
    built = []
    real_build = analysis._build_tokenizer

    def counting_build():
        built.append(1)
        return real_build()

    monkeypatch.setattr(analysis, "_tokenizer", None)
    monkeypatch.setattr(analysis, "_build_tokenizer", counting_build)
    results = []
    threads = [threading.Thread(target=lambda: results.append(analysis.get_tokenizer())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert len({id(r) for r in results}) == 1


def test_get_tokenizer_not_jieba_global_instance():
    import jieba

    assert analysis.get_tokenizer() is not jieba.dt
