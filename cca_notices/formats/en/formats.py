# Django's locale formats for English, where customers read them (letters, pages, e-mail, SMS,
# the IVR): the month spelled out in full ("January 5, 2027"), not Django's AP-style "Jan. 5".
DATE_FORMAT = "F j, Y"
