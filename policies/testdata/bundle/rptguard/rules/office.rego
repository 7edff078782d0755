package rptguard.rules.office

# office_hours: requests are allowed between the hours listed in data.office.
open if {
	hour := to_number(input.request.headers["x-hour"][0])
	hour >= data.office.opens
	hour < data.office.closes
}
