package litewavemetric_test

const crashChildEnv = "LITEWAVE_CRASH_CHILD"

func crashChild() int { return 0 }
