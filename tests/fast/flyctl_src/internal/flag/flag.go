// A miniature of flyctl's internal/flag, written for the generator's test.
package flag

const AppName = "app"

type Set []Flag

func App() String {
	return String{
		Name:        AppName,
		Shorthand:   "a",
		Description: "Application name: {braces} and, commas",
	}
}

func JSONOutput() Bool {
	return Bool{Name: "json", Shorthand: "j", Description: "JSON output"}
}

func Yes() Bool {
	return Bool{
		Name:        "yes",
		Shorthand:   "y",
		Description: "Accept all confirmations",
	}
}
