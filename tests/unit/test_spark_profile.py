"""The Spark session c360 starts and the one `dbt --target spark` starts
(profiles.yml) are configured alike: whichever starts first serves both."""

from __future__ import annotations

import yaml

from c360.settings import PROJECT_DIR


def test_the_profile_and_the_session_set_the_same_static_parameters(tmp_path) -> None:
    from c360.engine.spark import session_config

    profile = yaml.safe_load((PROJECT_DIR / "profiles.yml").read_text())
    parameters = profile["c360"]["outputs"]["spark"]["server_side_parameters"]
    static = {key: value for key, value in parameters.items() if "{{" not in str(value)}
    session = session_config(tmp_path)
    assert "spark.sql.files.maxRecordsPerFile" in static
    assert {key: session.get(key) for key in static} == static
