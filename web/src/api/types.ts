// Short names for the schemas the console uses, all from the generated schema.d.ts
// (`npm run gen:api` regenerates it from api/openapi.yaml; a contract change then fails the
// type check).
import type { components, paths } from './schema'

type S = components['schemas']
export type StaffRole = S['StaffRole']
// Every caller's role: a staff role, or a resident of the mini-program (x-roles in the spec).
export type Role = StaffRole | 'resident'
export type StaffAuth = S['StaffAuth']
export type StaffUser = S['StaffAuth']['user']
export type Village = S['Village']
export type Progress = S['Progress']
export type ProgressRow = S['ProgressRow']
export type MonthlyReport = S['MonthlyReport']
export type MonthlyReportRow = S['MonthlyReportRow']
export type RosterResident = S['RosterResident']
export type ResidentStatus = S['ResidentStatus']
export type Gender = S['Gender']
export type VisitOutcome = S['VisitOutcome']
export type VisitReason = S['VisitReason']
export type Revealed = S['RevealedPersonalData']
export type ApiErrorBody = S['Error']
export type RosterQuery = NonNullable<paths['/api/v1/admin/residents']['get']['parameters']['query']>
export type Assessment =
  paths['/api/v1/admin/reports/assessment']['get']['responses'][200]['content']['application/json']
export type CampaignStatus = S['CampaignStatus']
export type CampaignChannel = S['CampaignChannel']
export type Campaign = S['Campaign']
export type CampaignRequest = S['CampaignRequest']
export type CampaignPreview = S['CampaignPreview']
export type CampaignStats = S['CampaignStats']
export type Segment = S['Segment']
export type VisitTask = S['VisitTask']
export type VisitInput = S['VisitInput']
export type Visit = S['Visit']
export type Registration = S['Registration']
export type RegistrationStatus = S['RegistrationStatus']
export type Scheme = S['Scheme']
export type StaffAccount = S['StaffUser']
export type UserCreateRequest = S['UserCreateRequest']
export type ImportStatus = S['ImportStatus']
export type AllocationRequest = S['AllocationRequest']
export type Allocation = S['Allocation']
export type AdminPolicy = S['AdminPolicy']
export type PolicyUpdateRequest = S['PolicyUpdateRequest']
export type PolicyCreateRequest = S['PolicyCreateRequest']
export type PolicyRevision = S['PolicyRevision']
export type CityAnswers =
  paths['/api/v1/admin/city-answers']['post']['responses'][200]['content']['application/json']
