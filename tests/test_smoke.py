from tests.factories import login, make_listing, make_user


def test_home_page_renders_published_listings(client):
    make_listing(title="深远海养殖工船水质监测系统")
    response = client.get("/")
    assert response.status_code == 200
    assert "深远海养殖工船水质监测系统" in response.get_data(as_text=True)


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"]["database"]["status"] == "ok"


def test_researcher_creates_and_submits_achievement(client):
    researcher = make_user("researcher")
    login(client, researcher)
    response = client.post(
        "/listings/new/achievement",
        data={
            "title": "海藻酸盐医用敷料",
            "summary": "可降解止血敷料",
            "industry": "marine_biomedicine",
            "trl": "6",
            "cooperation_modes": ["transfer"],
            "price_cny": "1500000",
            "action": "submit",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "海藻酸盐医用敷料" in page and "待审核" in page
