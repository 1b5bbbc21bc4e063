# Django's locale formats for Spanish as it is written in California: Django's own long date
# ("5 de enero de 2027"), but dollar amounts with the decimal point and comma grouping used on
# every U.S. bill ("$1,234.50"), not Spain's "1.234,50".
DATE_FORMAT = r"j \d\e F \d\e Y"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
