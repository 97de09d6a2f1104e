package event

// NeedTool lets the external tests stop the same way when a poppler tool is missing.
var NeedTool = needTool
