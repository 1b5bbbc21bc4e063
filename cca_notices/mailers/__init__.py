"""Printed notices: letter context, one-by-one render, fast stamped batches, previews
(docs/mailers.md).

The batch builder calls `stamp.letters_pdf([LetterRequest(account, kind, mail_date, piece_id), …])`
(or a `stamp.LetterRenderer` to keep rendered variants across several files).
"""
