import pytest

from ownlay_pipelines.events.user_agent import DeviceInfo, describe_user_agent
from ownlay_pipelines_tests.ingest.payloads import IPHONE_UA


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (IPHONE_UA, DeviceInfo("mobile", "iOS", "Mobile Safari")),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            DeviceInfo("tablet", "iOS", "Mobile Safari"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
            DeviceInfo("mobile", "Android", "Chrome Mobile"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            DeviceInfo("tablet", "Android", "Chrome"),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            DeviceInfo("desktop", "Windows", "Chrome"),
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            DeviceInfo(None, None, "Googlebot"),
        ),
        ("curl/8.5.0", DeviceInfo(None, None, "curl")),
    ],
)
def test_user_agent_gives_device_type_os_and_browser(user_agent: str, expected: DeviceInfo):
    assert describe_user_agent(user_agent) == expected
