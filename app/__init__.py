"""The desktop application and the command line: Qt only, thin; every action goes through the Session."""
