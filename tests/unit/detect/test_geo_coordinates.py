def test_pairs_in_range(found) -> None:
    assert found("meet at 52.5200, 13.4050") == [("geo_coordinates", "52.5200, 13.4050")]
    assert found("-33.8688,151.2093") == [("geo_coordinates", "-33.8688,151.2093")]


def test_out_of_range_and_prices(found) -> None:
    assert found("95.1234, 13.4050") == []
    assert found("total 12.50, 13.99") == []


def test_single_coordinate_by_name(found) -> None:
    assert found("52.5200", column="latitude") == [("geo_coordinates", "52.5200")]
    assert found("120.5", column="lat") == []
    assert found("52.5200") == []
