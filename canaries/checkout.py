"""Example script canary (canaries/script.yaml): signs in to the example shop and checks the
account page, then reads the home page over HTTP. The API: docs/scripts.md."""


def handler(canary):
    base = canary.env["BASE_URL"]
    page = canary.page()

    with canary.step("open sign-in page"):
        page.goto(base + "/login.html")
        page.wait_for_selector("#user", timeout=5)

    with canary.step("sign in"):
        page.type("#user", "demo")
        page.type("#password", canary.env["PASSWORD"])
        page.select("#plan", "pro")
        page.click("#terms")
        page.click("button[type=submit]")
        page.wait_for_navigation(timeout=10)
        assert "Welcome, demo" in page.text("h1"), f"heading is {page.text('h1')!r}"
        assert page.title() == "Your account · Aviary example shop"

    with canary.step("read home page over HTTP"):
        r = canary.http.get(base + "/")
        assert r.status == 200, f"status {r.status}"
        assert "example shop" in r.text

    canary.log.info("signed in at %s", page.url)
