package litewavemetric

// Version is this release of litewavemetric (see CHANGELOG.md).
const Version = "0.1.0"
