// IoTServerless on Azure (azd): the function app (Flex Consumption), the MQTT broker (Container Apps),
// Table storage, an Event Grid topic, Key Vault, monitoring. Every connection uses a user-assigned
// managed identity: the storage account refuses shared keys, the Event Grid topic refuses access keys.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used to name and tag every resource.')
param environmentName string

@minLength(1)
@description('Primary location for all resources (a region offering Flex Consumption and Container Apps).')
param location string

@description('Object id of the deploying user or service principal: given data access for the hooks and for debugging.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal'])
param principalType string = 'User'

@secure()
@description('Shared key of the broker\'s internal API (azd: the Key Vault secret if present, else a new random value).')
param brokerApiKey string

@description('Whether the broker container app exists already (azd sets SERVICE_BROKER_RESOURCE_EXISTS); keeps its image on re-provision.')
param brokerExists bool = false

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var brokerAppName = '${abbrs.appContainerApps}broker-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
// Names are computed here rather than read from module outputs, so that what-if can predict resource ids.
var storageAccountName = '${abbrs.storageStorageAccounts}${resourceToken}'
var keyVaultName = '${abbrs.keyVaultVaults}${resourceToken}'
var eventGridTopicName = '${abbrs.eventGridDomainsTopics}${resourceToken}'
var registryName = '${abbrs.containerRegistryRegistries}${resourceToken}'
var logAnalyticsName = '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
var applicationInsightsName = '${abbrs.insightsComponents}${resourceToken}'
var containerAppsEnvironmentName = '${abbrs.appManagedEnvironments}${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identities 'app/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    location: location
    tags: tags
    functionIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}func-${resourceToken}'
    brokerIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}broker-${resourceToken}'
    scriptIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}script-${resourceToken}'
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: logAnalyticsName
    applicationInsightsName: applicationInsightsName
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: storageAccountName
    deploymentContainerName: deploymentContainerName
  }
}

module network 'app/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.networkVirtualNetworks}${resourceToken}'
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: keyVaultName
    brokerApiKey: brokerApiKey
  }
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    location: location
    tags: tags
    name: eventGridTopicName
  }
}

module registry 'app/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    location: location
    tags: tags
    name: registryName
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storageAccountName
    keyVaultName: keyVaultName
    eventGridTopicName: eventGridTopicName
    registryName: registryName
    applicationInsightsName: applicationInsightsName
    functionPrincipalId: identities.outputs.functionPrincipalId
    brokerPrincipalId: identities.outputs.brokerPrincipalId
    scriptPrincipalId: identities.outputs.scriptPrincipalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
  dependsOn: [storage, keyVault, eventGrid, registry, monitoring]
}

module containerAppsEnvironment 'app/container-apps-environment.bicep' = {
  name: 'container-apps-environment'
  scope: rg
  params: {
    location: location
    tags: tags
    name: containerAppsEnvironmentName
    logAnalyticsName: logAnalyticsName
    subnetId: network.outputs.containerAppsSubnetId
  }
  dependsOn: [monitoring]
}

// The broker's TLS server certificate names the broker's host, known only once the environment exists;
// it must be in Key Vault before the broker app (which mounts it) is created.
module brokerCertificate 'app/broker-certificate.bicep' = {
  name: 'broker-certificate'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.resourcesDeploymentScripts}broker-cert-${resourceToken}'
    identityId: identities.outputs.scriptIdentityId
    keyVaultName: keyVaultName
    certificateName: 'broker-server'
    hostName: '${brokerAppName}.${containerAppsEnvironment.outputs.defaultDomain}'
  }
  dependsOn: [rbac]
}

module broker 'app/broker.bicep' = {
  name: 'broker'
  scope: rg
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'broker' })
    name: brokerAppName
    exists: brokerExists
    environmentName: containerAppsEnvironmentName
    identityId: identities.outputs.brokerIdentityId
    identityClientId: identities.outputs.brokerClientId
    registryServer: registry.outputs.loginServer
    tableServiceUri: storage.outputs.tableEndpoint
    eventGridTopicEndpoint: eventGrid.outputs.endpoint
    apiKeySecretUri: keyVault.outputs.brokerApiKeySecretUri
    serverCertificateSecretUri: brokerCertificate.outputs.secretUri
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'functions' })
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    identityId: identities.outputs.functionIdentityId
    identityClientId: identities.outputs.functionClientId
    storageAccountName: storageAccountName
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: applicationInsightsName
    subnetId: network.outputs.functionsSubnetId
    brokerApiBaseUrl: broker.outputs.internalApiUrl
    brokerApiKeySecretUri: keyVault.outputs.brokerApiKeySecretUri
    keyVaultUri: keyVault.outputs.uri
  }
  dependsOn: [rbac, monitoring]
}

// Read by azd (AZURE_*, SERVICE_*) and by the postdeploy hook. No secrets here.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_APPS_ENVIRONMENT_NAME string = containerAppsEnvironment.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTIONS_BASE_URL string = functionApp.outputs.baseUrl
output EVENT_GRID_TOPIC_NAME string = eventGrid.outputs.name
output EVENT_GRID_TOPIC_ENDPOINT string = eventGrid.outputs.endpoint
output BROKER_APP_NAME string = broker.outputs.name
output BROKER_HOST string = broker.outputs.fqdn
output BROKER_MQTT_PORT int = broker.outputs.mqttPort
output BROKER_WSS_PORT int = broker.outputs.webSocketPort
output BROKER_SERVER_CERTIFICATE_NAME string = brokerCertificate.outputs.certificateName
output PLATFORM_CA_CERTIFICATE_NAME string = functionApp.outputs.caCertificateName
