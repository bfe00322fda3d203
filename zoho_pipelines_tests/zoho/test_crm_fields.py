from zoho_pipelines.zoho.crm_fields import MAX_FIELDS_PER_CALL, field_groups, merge_by_id


def test_few_fields_make_one_group_led_by_modified_time():
    assert field_groups(["Deal_Name", "id", "Amount", "Modified_Time"]) == [
        ["Modified_Time", "Deal_Name", "Amount"]
    ]


def test_many_fields_are_split_in_groups_of_fifty_without_loss_or_repeat():
    names = [f"Field_{index}" for index in range(120)]
    groups = field_groups(names)
    assert [len(group) for group in groups] == [50, 50, 21]
    assert groups[0][0] == "Modified_Time"
    flattened = [name for group in groups for name in group]
    assert flattened == ["Modified_Time", *names]
    assert all(len(group) <= MAX_FIELDS_PER_CALL for group in groups)


def test_merge_by_id_adds_fields_and_keeps_base_order():
    base = [{"id": "2", "A": 1}, {"id": "1", "A": 2}, {"id": "3", "A": 3}]
    extra = [{"id": "1", "B": "x"}, {"id": "2", "B": "y"}]
    assert merge_by_id(base, extra) == [
        {"id": "2", "A": 1, "B": "y"},
        {"id": "1", "A": 2, "B": "x"},
        {"id": "3", "A": 3},
    ]
