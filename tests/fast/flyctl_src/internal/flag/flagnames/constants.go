package flagnames

const AccessToken = "access-token"
