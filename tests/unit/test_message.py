"""Validation of `envoi` into an outgoing message, in the documented order."""

from __future__ import annotations

import pytest

from passerelle import exceptions as exc
from passerelle.api.params import LegacyParams
from passerelle.core.message import SendRequest, validate_send

GOOD = {"dest": "33612345678", "origine": "Shop", "msg": "Bonjour"}


def params(**changes: str) -> SendRequest:
    """The send request of GOOD's legacy parameters, changed."""
    values = {**GOOD, **changes}
    return LegacyParams.from_mapping(
        {k: v for k, v in values.items() if v is not None}
    ).send_request()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"dest": ""}, exc.DestMissing),
        ({"dest": " , ,"}, exc.DestMissing),
        ({"origine": ""}, exc.SenderMissing),
        ({"dest": "33612345678,3361234567a"}, exc.DestNotNumeric),
        ({"dest": "336123"}, exc.DestTooShort),
        ({"dest": "0612345678"}, exc.BadPrefix),
        ({"msg": ""}, exc.MessageMissing),
        ({"msg": " \r\n\t"}, exc.MessageMissing),
        ({"msg": "x" * 161}, exc.MessageTooLong),
        ({"origine": "A" * 16}, exc.SenderInvalid),
        ({"origine": "Shop{1}"}, exc.SenderInvalid),
        ({"sendertype": "2"}, exc.InvalidParameter),
        ({"type": "flash"}, exc.InvalidParameter),
        ({"callback": "yes"}, exc.InvalidParameter),
    ],
)
def test_each_refusal(changes: dict[str, str], error: type[exc.ApiError]) -> None:
    """Each faulty field gets its code."""
    with pytest.raises(error):
        validate_send(params(**changes), 500)


def test_order_03_before_04_before_05_before_08() -> None:
    """With several faults, the first check in the documented order answers."""
    with pytest.raises(exc.DestMissing):
        validate_send(params(dest="", origine="", msg=""), 500)
    with pytest.raises(exc.SenderMissing):
        validate_send(params(dest="x", origine="", msg=""), 500)
    with pytest.raises(exc.DestNotNumeric):
        validate_send(params(dest="x", msg=""), 500)
    with pytest.raises(exc.MessageMissing):
        validate_send(params(msg="", origine="A" * 20, sendertype="9"), 500)
    with pytest.raises(exc.MessageTooLong):
        validate_send(params(msg="x" * 200, origine="A" * 20), 500)


def test_160_characters_accepted_161_refused() -> None:
    """The limit is 160 characters after mapping."""
    assert len(validate_send(params(msg="é" * 160), 500).text) == 160
    with pytest.raises(exc.MessageTooLong):
        validate_send(params(msg="é" * 161), 500)


def test_text_is_mapped_and_stored_mapped() -> None:
    """Characters outside the list become '?' in the stored text."""
    assert validate_send(params(msg="ça va ~"), 500).text == "?a va ?"


def test_duplicates_charged_once_and_limit_counts_distinct() -> None:
    """Duplicates are sent and charged once; the recipient limit counts distinct numbers."""
    out = validate_send(params(dest="33612345678,+33612345678,0033612345678"), 1)
    assert out.recipients == ("33612345678",)
    assert out.cost == 1
    with pytest.raises(exc.TooManyRecipients):
        validate_send(params(dest="33612345678,33612345679"), 1)


def test_defaults_and_options() -> None:
    """Empty options take defaults; sendertype/type/callback parse."""
    out = validate_send(params(sendertype="", type="", callback=""), 500)
    assert (out.sender_type, out.flash, out.callback) == (5, False, False)
    out = validate_send(params(sendertype="1", type="1", callback="1", origine="33612345678"), 500)
    assert (out.sender_type, out.flash, out.callback) == (1, True, True)


def test_numeric_sender_up_to_15_digits() -> None:
    """A numeric sender of up to 15 digits is kept as is."""
    assert validate_send(params(origine="123456789012345"), 500).sender == "123456789012345"


def test_a_list_over_the_limit_is_15_before_its_numbers_are_checked() -> None:
    """More distinct items than the limit answer 15 even with a bad number among them;
    duplicates do not count, and within the limit the number checks come first."""
    over = SendRequest(dest="33612345678,3361234567x,33612345679", sender="S", text="m")
    with pytest.raises(exc.TooManyRecipients):
        validate_send(over, 2)
    within = SendRequest(dest="33612345678,3361234567x,33612345678", sender="S", text="m")
    with pytest.raises(exc.DestNotNumeric):
        validate_send(within, 2)
