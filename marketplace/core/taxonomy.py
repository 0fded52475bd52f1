"""The platform's fixed vocabularies (shared/spec/taxonomy.md), kept as data in one place.

Codes are stable identifiers used in the database, exports, the API and the search index;
the labels are what users see. Each vocabulary maps code -> (中文, English).
"""

from __future__ import annotations

from flask_babel import get_locale

Vocabulary = dict[str, tuple[str, str]]

INDUSTRIES: Vocabulary = {
    "marine_equipment": ("船舶与海洋工程装备", "Shipbuilding & offshore equipment"),
    "marine_biomedicine": ("海洋生物医药", "Marine biomedicine"),
    "modern_fishery": ("现代海洋渔业", "Modern marine fishery"),
    "marine_information": ("海洋信息", "Marine information & sensing"),
    "seawater_ocean_energy": ("海水利用与海洋新能源", "Seawater utilisation & ocean energy"),
    "smart_appliances": ("智能家电", "Smart home appliances"),
    "new_materials": ("化工新材料", "Chemicals & new materials"),
    "new_energy_vehicles": ("新能源汽车", "New-energy vehicles"),
    "high_end_equipment": ("高端装备与智能制造", "High-end equipment & smart manufacturing"),
    "rail_transit": ("轨道交通装备", "Rail transit equipment"),
    "ic_display": ("集成电路与新型显示", "Integrated circuits & displays"),
    "artificial_intelligence": ("人工智能与软件", "AI, software & industrial internet"),
    "biomedicine_devices": ("生物医药与医疗器械", "Biomedicine & medical devices"),
    "hydrogen_storage": ("氢能与储能", "Hydrogen & energy storage"),
    "aerospace": ("航空航天", "Aerospace"),
    "agriculture_food": ("现代农业与食品", "Modern agriculture & food"),
    "green_low_carbon": ("绿色低碳与环保", "Green, low-carbon & environment"),
    "frontier": ("前沿未来技术", "Frontier technologies"),
}

DISTRICTS: Vocabulary = {
    "shinan": ("市南区", "Shinan"),
    "shibei": ("市北区", "Shibei"),
    "licang": ("李沧区", "Licang"),
    "laoshan": ("崂山区", "Laoshan"),
    "chengyang": ("城阳区", "Chengyang"),
    "huangdao": ("黄岛区（西海岸新区）", "Huangdao (West Coast New Area)"),
    "jimo": ("即墨区", "Jimo"),
    "jiaozhou": ("胶州市", "Jiaozhou"),
    "pingdu": ("平度市", "Pingdu"),
    "laixi": ("莱西市", "Laixi"),
    "outside": ("青岛市外", "Outside Qingdao"),
}

# Other names met in real data for the same district (taxonomy.md), and GB/T 2260 codes.
DISTRICT_ALIASES: dict[str, str] = {
    "市南区": "shinan",
    "370202": "shinan",
    "市北区": "shibei",
    "370203": "shibei",
    "李沧区": "licang",
    "370213": "licang",
    "崂山区": "laoshan",
    "370212": "laoshan",
    "城阳区": "chengyang",
    "370214": "chengyang",
    "黄岛区": "huangdao",
    "西海岸新区": "huangdao",
    "青岛西海岸新区": "huangdao",
    "黄岛区（西海岸新区）": "huangdao",
    "370211": "huangdao",
    "即墨区": "jimo",
    "370215": "jimo",
    "胶州市": "jiaozhou",
    "370281": "jiaozhou",
    "平度市": "pingdu",
    "370283": "pingdu",
    "莱西市": "laixi",
    "370285": "laixi",
}

COOPERATION_MODES: Vocabulary = {
    "transfer": ("技术转让", "Transfer"),
    "license": ("技术许可", "Licence"),
    "equity": ("作价入股", "Equity investment"),
    "joint_development": ("合作开发", "Joint development"),
    "service": ("技术服务/咨询", "Technical service / consulting"),
}

IP_TYPES: Vocabulary = {
    "invention_patent": ("发明专利", "Invention patent"),
    "utility_model": ("实用新型专利", "Utility model"),
    "design_patent": ("外观设计专利", "Design patent"),
    "software_copyright": ("软件著作权", "Software copyright"),
    "ic_layout": ("集成电路布图设计", "IC layout design"),
    "plant_variety": ("植物新品种", "Plant variety"),
    "know_how": ("技术秘密", "Know-how"),
}

CONTRACT_TYPES: Vocabulary = {
    "development": ("技术开发", "Development"),
    "transfer": ("技术转让", "Transfer"),
    "license": ("技术许可", "Licence"),
    "consulting": ("技术咨询", "Consulting"),
    "service": ("技术服务", "Service"),
}

TECH_FIELDS: Vocabulary = {
    "electronic_information": ("电子信息", "Electronic information"),
    "advanced_manufacturing": ("先进制造", "Advanced manufacturing"),
    "aerospace": ("航空航天", "Aerospace"),
    "modern_transport": ("现代交通", "Modern transport"),
    "agriculture": ("农业", "Agriculture"),
    "new_materials": ("新材料及其应用", "New materials"),
    "new_energy": ("新能源与高效节能", "New energy & efficiency"),
    "environment": ("环境保护与资源综合利用", "Environment & resources"),
    "biomedicine": ("生物、医药和医疗器械", "Biology, medicine & devices"),
    "urban_social": ("城市建设与社会发展", "Urban & social development"),
    "nuclear": ("核应用", "Nuclear applications"),
}

PARTY_KINDS: Vocabulary = {
    "enterprise": ("企业", "Enterprise"),
    "university": ("高等院校", "University"),
    "institute": ("科研机构", "Research institute"),
    "other": ("其他", "Other"),
}

TRL_LEVELS = range(1, 10)
TRL_STAGES: Vocabulary = {
    "1-3": ("实验室原理验证", "Lab principle & proof"),
    "4-5": ("实验室样机/小试", "Lab prototype / small trial"),
    "6-7": ("中试与系统示范", "Pilot & demonstration"),
    "8-9": ("产品定型与产业化", "Product & industrialisation"),
}


def _use_english() -> bool:
    try:
        locale = get_locale()
    except (RuntimeError, AttributeError):  # outside a request: exports, CLI
        return False
    return locale is not None and locale.language == "en"


def label(vocabulary: Vocabulary, code: str | None) -> str:
    """The user-facing label of ``code`` in the current locale; unknown codes show as-is."""
    if not code:
        return ""
    labels = vocabulary.get(code)
    if labels is None:
        return code
    return labels[1] if _use_english() else labels[0]


def choices(vocabulary: Vocabulary) -> list[tuple[str, str]]:
    """(code, label) pairs for a form select, in the taxonomy's order."""
    return [(code, label(vocabulary, code)) for code in vocabulary]


def trl_stage(trl: int | None) -> str:
    if not trl:
        return ""
    for span, _labels in TRL_STAGES.items():
        low, high = (int(x) for x in span.split("-"))
        if low <= trl <= high:
            return label(TRL_STAGES, span)
    return ""


def normalise_district(value: str | None) -> str | None:
    """Map a code, a Chinese name or a GB/T 2260 code to a district code; None when unknown."""
    if not value:
        return None
    value = value.strip()
    if value in DISTRICTS:
        return value
    if value in DISTRICT_ALIASES:
        return DISTRICT_ALIASES[value]
    for name, code in DISTRICT_ALIASES.items():
        if not name.isdigit() and name in value:
            return code
    return None
