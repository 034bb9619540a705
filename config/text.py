def normalise_text(value):
    """Text as stored: one kind of line ending (browsers send CRLF from textareas), no outer whitespace."""
    if not isinstance(value, str):
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()
